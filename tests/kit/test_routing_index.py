"""The app's route index (kit/web.py _IndexedRouter) picks exactly the endpoint FastAPI's own loop picks.

The index leans on FastAPI internals (pinned version): if an upgrade changes them, these tests fail
before a request is sent to the wrong endpoint.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, _IncludedRouter
from starlette.routing import Match, Mount

from quanzi.app import create_app
from quanzi.config import Settings
from quanzi.kit.web import _IndexedRouter


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    tmp = tmp_path_factory.mktemp("routing")
    return create_app(Settings(database_url=f"sqlite:///{tmp / 'r.db'}", media_dir=tmp / "media"), start_worker=False)


def _scope(path: str, method: str) -> dict:
    return {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}


def _fastapi_choice(router, scope: dict):  # noqa: ANN001, ANN202
    """The endpoint FastAPI's own loop (APIRouter.app) would run: first FULL match, in route order."""
    for route in router.routes:
        match, _ = route.matches(dict(scope))
        if match == Match.FULL:
            if isinstance(route, _IncludedRouter):
                _, _, leaf, _ = route._match(dict(scope))
                return leaf
            return route
    return None


def _sample(path_format: str) -> str:
    return re.sub(r"\{[^}:]+(:path)?\}", lambda m: "a/b" if m.group(1) else "7", path_format)


def test_every_endpoint_resolves_to_the_same_route_both_ways(app) -> None:  # noqa: ANN001
    router = app.router
    assert isinstance(router, _IndexedRouter)
    checked = 0
    for top in router.routes:
        leaves = list(top.effective_route_contexts()) if isinstance(top, _IncludedRouter) else [top]
        for leaf in leaves:
            original = getattr(leaf, "original_route", leaf)
            path_format = getattr(leaf, "path_format", None) or getattr(leaf.starlette_route, "path_format", "")
            methods = sorted(getattr(original, "methods", None) or {"GET"})
            for method in methods:
                scope = _scope(_sample(path_format), method)
                expected = _fastapi_choice(router, scope)
                selected = router.select(dict(scope))
                got = None
                if selected is not None:
                    inclusion, route, _ = selected
                    got = route.original_route if inclusion is not None else route
                assert got is expected, (method, path_format)
                checked += 1
    assert checked > 200  # every domain's endpoints, not an empty walk


@pytest.mark.parametrize("path,method", [("/api/ping", "DELETE"), ("/api/nowhere", "GET"), ("/static/app.css", "GET")])
def test_what_the_index_does_not_take_falls_through_to_fastapi(app, path: str, method: str) -> None:  # noqa: ANN001
    selected = app.router.select(_scope(path, method))
    if path.startswith("/static"):
        assert selected is not None and isinstance(selected[1], Mount)
    else:
        assert selected is None  # 405 / 404 are answered by FastAPI's loop


def test_a_route_added_after_start_up_is_found(app) -> None:  # noqa: ANN001
    @app.get("/api/added-late")
    async def late() -> dict[str, bool]:
        return {"ok": True}

    selected = app.router.select(_scope("/api/added-late", "GET"))
    assert selected is not None and isinstance(selected[1], APIRoute) and selected[1].endpoint is late
