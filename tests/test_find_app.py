"""One way to find an App Platform app (api._apps.find_app), shared by the app target and restart_app."""

from __future__ import annotations

from typing import Any

import pytest

from do_pgpool._exceptions import ConfigError, NotFoundError
from do_pgpool.api._apps import find_app

ID1, ID2 = "c2a93513-8d9b-4223-9d61-5e7272c81cf5", "d2a93513-8d9b-4223-9d61-5e7272c81cf6"


class Apps:
    request_count = 0

    def __init__(self, *apps: dict[str, Any]) -> None:
        self.apps = {a["id"]: a for a in apps}
        self.calls: list[str] = []

    def list_apps(self) -> list[dict[str, Any]]:
        self.calls.append("list")
        return list(self.apps.values())

    def get_app(self, app_id: str) -> dict[str, Any]:
        self.calls.append(f"get {app_id}")
        if app_id not in self.apps:
            raise NotFoundError("404", status=404)
        return self.apps[app_id]


def app(app_id: str, name: str) -> dict[str, Any]:
    return {"id": app_id, "spec": {"name": name}}


def test_by_name_reads_again_only_when_fresh() -> None:
    api = Apps(app(ID1, "web"))
    assert find_app(api, "web")["id"] == ID1 and api.calls == ["list", f"get {ID1}"]  # type: ignore[arg-type]
    api.calls.clear()
    assert find_app(api, "web", fresh=False)["id"] == ID1 and api.calls == ["list"]  # type: ignore[arg-type]


def test_by_id_is_one_read() -> None:
    api = Apps(app(ID1, "web"))
    assert find_app(api, ID1)["id"] == ID1 and api.calls == [f"get {ID1}"]  # type: ignore[arg-type]


def test_two_apps_of_one_name_are_refused_for_every_caller() -> None:
    api = Apps(app(ID1, "web"), app(ID2, "web"))
    with pytest.raises(ConfigError, match=f"several App Platform apps are named 'web' \\({ID1}, {ID2}\\); use X"):
        find_app(api, "web", fresh=False, id_form="X")  # type: ignore[arg-type]


def test_none_lists_what_the_token_sees_then_the_hint() -> None:
    with pytest.raises(NotFoundError, match=r"no App Platform app named 'shop' for this token \(apps: api, web\)\. Hi"):
        find_app(Apps(app(ID1, "web"), app(ID2, "api")), "shop", hint=". Hi")  # type: ignore[arg-type]
