"""Find an App Platform app by id or name: the one lookup the secret targets and ``restart_app`` share."""

from __future__ import annotations

from .._exceptions import ConfigError, NotFoundError
from .._models import JsonDict, looks_like_uuid
from ._ports import AppsAPI

__all__ = ["find_app"]


def find_app(
    api: AppsAPI, ref: str, *, fresh: bool = True, hint: str = "", id_form: str = "the app's id"
) -> JsonDict:
    """The app whose id or spec name is ``ref``. None -> ``NotFoundError`` listing what the token sees (then
    ``hint``); several of that name -> ``ConfigError`` listing their ids (use ``id_form`` instead).

    An id is read directly (a name that merely looks like one falls through to the list). With ``fresh`` an app
    found in the list is read again by id: a spec that is PUT back must be the complete, current one; a caller
    that only reads the spec passes ``fresh=False`` and saves the request.
    """
    if looks_like_uuid(ref):
        try:
            return api.get_app(ref)
        except NotFoundError:
            pass
    apps = api.list_apps()
    matches = [a for a in apps if (a.get("spec") or {}).get("name") == ref or a.get("id") == ref]
    if len(matches) == 1:
        return api.get_app(str(matches[0]["id"])) if fresh else matches[0]
    if not matches:
        names = sorted(str((a.get("spec") or {}).get("name")) for a in apps)
        listed = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        raise NotFoundError(
            f"no App Platform app named {ref!r} for this token (apps: {listed or 'none'}){hint}",
            status=404, error_id="not_found", method="GET", path="/v2/apps",
        )  # fmt: skip
    ids = ", ".join(str(a.get("id")) for a in matches)
    raise ConfigError(f"several App Platform apps are named {ref!r} ({ids}); use {id_form} instead")
