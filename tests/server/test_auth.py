"""Every verb of every /mlops/api route refuses a request without a token."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from jupyter_mlops.server.routes import ROUTES

VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def concrete(pattern: str) -> str:
    return re.sub(r"\(\?P<\w+>\[\^/\]\+\)", "x" * 32, pattern).removesuffix("/?")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.pattern)
async def test_route_refuses_without_token(
    route: Any, jp_fetch: Callable[..., Awaitable[Any]], jp_base_url: str, jp_http_port: int
) -> None:
    await jp_fetch("api", "status")  # the server is up and the token works
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}mlops/api/{concrete(route.pattern)}"
    client = AsyncHTTPClient()
    for verb in VERBS:
        body = b"{}" if verb in {"POST", "PUT", "PATCH"} else None
        with pytest.raises(HTTPClientError) as info:
            await client.fetch(url, method=verb, body=body)
        # 403 from authentication; 405 only for verbs the resource does not implement at all.
        implemented = hasattr(route.handler, verb.lower()) and verb.lower() in vars(route.handler)
        expected = {403} if implemented else {403, 405}
        assert info.value.code in expected, f"{verb} {url} answered {info.value.code}"


async def test_a_verb_a_resource_does_not_have_is_a_405_naming_the_ones_it_has(
    jp_fetch: Callable[..., Awaitable[Any]],
) -> None:
    checked = 0
    for route in ROUTES:
        implemented = [v for v in VERBS if v.lower() in vars(route.handler)]
        missing = [v for v in VERBS if v not in implemented]
        if not missing:
            continue
        verb = missing[0]
        body = b"{}" if verb in {"POST", "PUT", "PATCH"} else None
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(
                "mlops", "api", *concrete(route.pattern).split("/"), method=verb, body=body
            )
        assert info.value.code == 405, f"{verb} {route.pattern}"
        assert info.value.response is not None
        allow = info.value.response.headers.get("Allow", "")
        assert allow.split(", ") == implemented, f"{verb} {route.pattern}: Allow {allow!r}"
        checked += 1
    assert checked > 5
