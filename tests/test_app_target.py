"""App Platform target: whole-spec round trip, EV[...] values untouched, fingerprints, no needless deployments."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from do_pgpool._exceptions import ConfigError, NotFoundError
from do_pgpool.targets._app import AppTarget, edit_app_spec, fingerprint, fingerprint_key
from do_pgpool.targets._parse import parse_target
from do_pgpool.targets._write import write_secrets
from do_pgpool.testing import openapi

PASSWORD = "AVNS_s3cr3tPassw0rd-xyz"
URL = f"postgresql://doadmin:{PASSWORD}@db-pg-fra1-1234.b.db.ondigitalocean.com:25061/app-pool?sslmode=require"
URL2 = URL.replace(PASSWORD, "AVNS_rotatedPassw0rd-abc")
APP_ID = "c2a93513-8d9b-4223-9d61-5e7272c81cf5"

# Other people's secrets, exactly as the API returns them.
EV_SESSION = "EV[1:zO7vBc8WZ6uUvR0mWY0n0XyDW3sB7dXp:RRbzoYUDgpwW9vT8xYqvW+2Q7zE=]"
EV_STRIPE = "EV[1:q0bD3Tz8P5f6s7d8x9c0v1b2n3m4l5k6:ZW5jcnlwdGVk+/=]"


def example_app() -> dict[str, Any]:
    """The OpenAPI ``apps_get`` example (components.examples.app), plus env vars with EV[...] values."""
    app = copy.deepcopy(openapi.load()["components"]["examples"]["app"]["value"]["app"])
    assert app["id"] == APP_ID and app["spec"]["name"] == "sample-golang"
    spec = app["spec"]
    spec["envs"] = [
        {"key": "SESSION_SECRET", "value": EV_SESSION, "scope": "RUN_TIME", "type": "SECRET"},
        {"key": "LOG_LEVEL", "value": "info", "scope": "RUN_AND_BUILD_TIME", "type": "GENERAL"},
    ]
    spec["services"][0]["envs"] = [{"key": "STRIPE_KEY", "value": EV_STRIPE, "scope": "RUN_TIME", "type": "SECRET"}]
    spec["workers"] = [{"name": "queue", "envs": [{"key": "QUEUES", "value": "default"}]}]
    return app


class FakeApps:
    """Just enough App Platform: encrypts SECRET values on submission, starts a deployment per update."""

    def __init__(self, *apps: dict[str, Any]) -> None:
        self.apps = {a["id"]: copy.deepcopy(a) for a in apps}
        self.sent: list[dict[str, Any]] = []  # specs as PUT, plaintext included
        self.reads = 0

    def list_apps(self) -> list[dict[str, Any]]:
        self.reads += 1
        return copy.deepcopy(list(self.apps.values()))

    def get_app(self, app_id: str) -> dict[str, Any]:
        self.reads += 1
        if app_id not in self.apps:
            raise NotFoundError("The resource you were accessing could not be found.", status=404)
        return copy.deepcopy(self.apps[app_id])

    def update_app(self, app_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(copy.deepcopy(spec))
        stored = copy.deepcopy(spec)
        for envs in _all_envs(stored):
            for env in envs:
                if env.get("type") == "SECRET" and not str(env.get("value", "")).startswith("EV["):
                    env["value"] = f"EV[1:fake{len(self.sent)}:{len(env['value'])}]"
        app = self.apps[app_id]
        app["spec"] = stored
        app["pending_deployment"] = {"id": f"deployment-{len(self.sent)}", "spec": stored}
        return copy.deepcopy(app)

    def get_deployment(self, app_id: str, deployment_id: str) -> dict[str, Any]:
        return {"id": deployment_id, "phase": "PENDING_BUILD"}


def _all_envs(spec: dict[str, Any]) -> list[list[dict[str, Any]]]:
    out = [spec.get("envs") or []]
    for kind in ("services", "workers", "jobs", "static_sites", "functions"):
        out += [c.get("envs") or [] for c in spec.get(kind) or []]
    return out


def _without(spec: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The spec with our variables removed (to compare everything else byte-for-byte)."""
    clean = copy.deepcopy(spec)
    for envs in _all_envs(clean):
        envs[:] = [e for e in envs if e.get("key") not in keys]
    return clean


def _env(envs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    (entry,) = [e for e in envs if e["key"] == key]
    return entry


def write(fake: FakeApps, target: str, values: dict[str, str], **kw: Any) -> Any:
    (outcome,) = write_secrets([parse_target(target)], values, apps=fake, **kw)
    return outcome


def test_app_level_secret_round_trip_keeps_every_other_value_byte_for_byte() -> None:
    original = example_app()
    fake = FakeApps(original)
    outcome = write(fake, "app:sample-golang", {"DATABASE_URL": URL})
    assert outcome.ok and outcome.action == "created"
    assert outcome.deployment_id == "deployment-1"
    assert "deployment deployment-1 started" in outcome.detail
    (sent,) = fake.sent
    assert json.dumps(_without(sent, "DATABASE_URL", "DO_PGPOOL_DATABASE_URL_SHA256"), sort_keys=False) == json.dumps(
        original["spec"], sort_keys=False
    )
    assert _env(sent["envs"], "SESSION_SECRET")["value"] == EV_SESSION
    assert _env(sent["services"][0]["envs"], "STRIPE_KEY")["value"] == EV_STRIPE
    assert _env(sent["envs"], "DATABASE_URL") == {"key": "DATABASE_URL", "value": URL, "scope": "RUN_TIME",
                                                  "type": "SECRET"}
    mark = _env(sent["envs"], "DO_PGPOOL_DATABASE_URL_SHA256")
    assert mark["type"] == "GENERAL" and mark["value"] == fingerprint(APP_ID, "DATABASE_URL", URL)
    assert PASSWORD not in mark["value"]


def test_second_run_with_the_same_value_starts_no_deployment() -> None:
    fake = FakeApps(example_app())
    write(fake, "app:sample-golang", {"DATABASE_URL": URL})
    again = write(fake, "app:sample-golang", {"DATABASE_URL": URL})
    assert again.ok and again.action == "unchanged"
    assert again.deployment_id is None and "no deployment" in again.detail
    assert len(fake.sent) == 1
    # the stored value is now encrypted, so only the fingerprint could tell
    assert fake.apps[APP_ID]["spec"]["envs"][-2]["value"].startswith("EV[")


def test_a_new_value_updates_and_deploys_again() -> None:
    fake = FakeApps(example_app())
    write(fake, "app:sample-golang", {"DATABASE_URL": URL})
    outcome = write(fake, "app:sample-golang", {"DATABASE_URL": URL2})
    assert outcome.action == "updated" and outcome.deployment_id == "deployment-2"
    sent = fake.sent[-1]
    assert _env(sent["envs"], "DATABASE_URL")["value"] == URL2
    assert _env(sent["envs"], fingerprint_key("DATABASE_URL"))["value"] == fingerprint(APP_ID, "DATABASE_URL", URL2)
    assert [e["key"] for e in sent["envs"]].count("DATABASE_URL") == 1


def test_component_level_variable_and_second_run() -> None:
    fake = FakeApps(example_app())
    outcome = write(fake, "app:sample-golang/web", {"DATABASE_URL": URL})
    assert outcome.action == "created"
    sent = fake.sent[-1]
    web_envs = sent["services"][0]["envs"]
    assert _env(web_envs, "DATABASE_URL")["value"] == URL
    assert _env(web_envs, "STRIPE_KEY")["value"] == EV_STRIPE
    assert all(e["key"] != "DATABASE_URL" for e in sent["envs"])  # app level untouched
    assert write(fake, "app:sample-golang/web", {"DATABASE_URL": URL}).action == "unchanged"
    assert len(fake.sent) == 1


def test_unknown_component_lists_the_components() -> None:
    fake = FakeApps(example_app())
    outcome = write(fake, "app:sample-golang/api", {"DATABASE_URL": URL})
    assert isinstance(outcome.error, ConfigError)
    assert "service web" in str(outcome.error) and "worker queue" in str(outcome.error)
    assert fake.sent == []


def test_existing_scope_is_kept_and_plain_value_becomes_secret() -> None:
    app = example_app()
    app["spec"]["envs"].append({"key": "DATABASE_URL", "value": URL, "scope": "RUN_AND_BUILD_TIME", "type": "GENERAL"})
    fake = FakeApps(app)
    (change,) = AppTarget("sample-golang", client=fake).plan({"DATABASE_URL": URL})
    assert change.action == "update" and "plain text" in change.detail
    write(fake, "app:sample-golang", {"DATABASE_URL": URL})
    entry = _env(fake.sent[-1]["envs"], "DATABASE_URL")
    assert entry == {"key": "DATABASE_URL", "value": URL, "scope": "RUN_AND_BUILD_TIME", "type": "SECRET"}


def test_existing_secret_without_fingerprint_is_rewritten_once() -> None:
    app = example_app()
    app["spec"]["envs"].append({"key": "DATABASE_URL", "value": "EV[1:abc:def]", "type": "SECRET"})
    fake = FakeApps(app)
    (change,) = AppTarget("sample-golang", client=fake).plan({"DATABASE_URL": URL})
    assert change.action == "update" and "cannot be compared" in change.detail
    write(fake, "app:sample-golang", {"DATABASE_URL": URL})
    assert write(fake, "app:sample-golang", {"DATABASE_URL": URL}).action == "unchanged"
    assert len(fake.sent) == 1


def test_app_level_target_also_updates_components_that_define_the_name() -> None:
    app = example_app()
    app["spec"]["workers"][0]["envs"].append({"key": "DATABASE_URL", "value": "EV[1:old:old]", "type": "SECRET"})
    fake = FakeApps(app)
    outcome = write(fake, "app:sample-golang", {"DATABASE_URL": URL})
    assert "also set in worker queue" in outcome.detail
    sent = fake.sent[-1]
    assert _env(sent["workers"][0]["envs"], "DATABASE_URL")["value"] == URL
    assert _env(sent["envs"], "DATABASE_URL")["value"] == URL
    assert write(fake, "app:sample-golang", {"DATABASE_URL": URL}).action == "unchanged"


def test_two_names_in_one_update_one_deployment() -> None:
    fake = FakeApps(example_app())
    direct = URL.replace(":25061/app-pool", ":25060/defaultdb")
    outcome = write(fake, "app:sample-golang", {"DATABASE_URL": URL, "DIRECT_DATABASE_URL": direct})
    assert dict(outcome.names) == {"DATABASE_URL": "created", "DIRECT_DATABASE_URL": "created"}
    assert len(fake.sent) == 1


def test_dry_run_reads_only() -> None:
    fake = FakeApps(example_app())
    (outcome,) = write_secrets([parse_target("app:sample-golang")], {"DATABASE_URL": URL}, apps=fake, dry_run=True)
    assert outcome.dry_run and outcome.action == "create"
    assert "starts a deployment" in outcome.changes[0].detail
    assert fake.sent == []


def test_find_by_id_is_one_get_and_by_name_is_list_then_get() -> None:
    fake = FakeApps(example_app())
    assert write(fake, f"app:{APP_ID}", {"DATABASE_URL": URL}).ok
    assert fake.reads == 1  # one GET by id, no list
    fake.reads = 0
    assert write(fake, "app:sample-golang", {"DATABASE_URL": URL}).action == "unchanged"
    assert fake.reads == 2  # the list, then a fresh GET of the complete spec


def test_app_not_found_lists_candidates() -> None:
    fake = FakeApps(example_app())
    outcome = write(fake, "app:nope", {"DATABASE_URL": URL})
    assert isinstance(outcome.error, NotFoundError)
    assert "sample-golang" in str(outcome.error)


def test_ambiguous_name_asks_for_the_id() -> None:
    one, two = example_app(), example_app()
    two["id"] = "d2a93513-8d9b-4223-9d61-5e7272c81cf6"
    outcome = write(FakeApps(one, two), "app:sample-golang", {"DATABASE_URL": URL})
    assert isinstance(outcome.error, ConfigError) and "app:APP_ID" in str(outcome.error)


def test_edit_is_pure() -> None:
    app = example_app()
    before = copy.deepcopy(app["spec"])
    edit = edit_app_spec(app["spec"], APP_ID, None, {"DATABASE_URL": URL})
    assert app["spec"] == before and edit.changed


def test_fingerprint_is_salted_by_app_and_name() -> None:
    fp = fingerprint(APP_ID, "DATABASE_URL", URL)
    assert fp.startswith("v1:") and len(fp) == 3 + 32
    assert fingerprint("other-app", "DATABASE_URL", URL) != fp
    assert fingerprint(APP_ID, "DIRECT_URL", URL) != fp
    assert PASSWORD not in fp


@pytest.mark.parametrize("target", ["app:sample-golang", "app:sample-golang/web"])
def test_no_password_in_any_outcome_or_description(target: str) -> None:
    fake = FakeApps(example_app())
    t = parse_target(target)
    texts = [t.describe(), repr(t)]
    (planned,) = write_secrets([t], {"DATABASE_URL": URL}, apps=fake, dry_run=True)
    (done,) = write_secrets([t], {"DATABASE_URL": URL}, apps=fake)
    for o in (planned, done):
        texts += [o.describe(), repr(o), json.dumps(o.as_dict())] + [c.describe() for c in o.changes]
    assert not [x for x in texts if PASSWORD in x]
    assert "doadmin:***@db-pg-fra1-1234" in planned.changes[0].describe()
