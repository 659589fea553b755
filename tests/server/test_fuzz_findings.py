"""Requests the REST fuzzer (benchmarks/fuzz_rest.py) answered with a 5xx: each is a user's
mistake, so each is a 400 naming the problem."""

from __future__ import annotations

import pytest

from jupyter_mlops import Workspace
from tests.helpers import Fetch, get_error


@pytest.mark.parametrize(
    ("route", "query", "field", "words"),
    [
        # an effect whose standardised size underflows to 0 (ZeroDivisionError, a 500)
        (
            ("abtests", "plan"),
            {"baseline": "0.6432", "mde": "-7.9e-294"},
            "mde",
            "too small",
        ),
        # a superscript digit passes str.isdigit() but not int() (ValueError, a 500)
        (("models", "churn", "versions", "\u00b9"), {}, "version", "not a version number"),
        # a time zone that moves year 1 before the first UTC datetime (OverflowError, a 500)
        (
            ("monitoring", "deployments", "churn", "metrics"),
            {"end": "0001-01-01T00:00:00+00:01"},
            "end",
            "out of range",
        ),
        # a page token with a character MLflow cannot decode (a 503 "the MLflow store failed")
        (("experiments", "0", "runs"), {"page_token": "[Filtré]"}, "page_token", "page token"),
    ],
)
async def test_fuzzed_requests_are_400s_naming_the_problem(
    jp_fetch: Fetch,
    workspace: Workspace,
    route: tuple[str, ...],
    query: dict[str, str],
    field: str,
    words: str,
) -> None:
    code, error = await get_error(jp_fetch, *route, **query)
    assert code == 400, error
    assert words in error["message"] + str(error.get("detail", "")), error
    if "field" in error:
        assert error["field"] == field, error
