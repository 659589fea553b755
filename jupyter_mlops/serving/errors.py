"""Errors a model server answers with: each is a 4xx with a message naming the problem."""

from __future__ import annotations


class RequestError(Exception):
    """A client's mistake; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
