"""Cut DigitalOcean's bundled OpenAPI description down to what do-pgpool and its fake use.

    python -m do_pgpool.testing.openapi.trim FULL_BUNDLE.json [OUT.json]

FULL_BUNDLE.json is one file with every ``$ref`` internal (``#/components/...``): the bundle of
``specification/DigitalOcean-public.v2.yaml`` from github.com/digitalocean/openapi, made for example with
``npx @redocly/cli bundle specification/DigitalOcean-public.v2.yaml --ext json -o FULL_BUNDLE.json``.
Keeps the operations of ``PATHS`` and every component they reach (transitively); drops the rest.
OUT.json defaults to the vendored copy beside this script. See README.md here.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["PATHS", "trim"]

#: The paths kept (exact OpenAPI path keys): what do-pgpool calls, what its fake serves, and the
#: PostgreSQL-cluster endpoints the project is planning on (config, firewall, CA, events, autoscale).
PATHS: tuple[str, ...] = (
    "/v2/account",
    "/v2/databases",
    "/v2/databases/options",
    "/v2/databases/{database_cluster_uuid}",
    "/v2/databases/{database_cluster_uuid}/autoscale",
    "/v2/databases/{database_cluster_uuid}/ca",
    "/v2/databases/{database_cluster_uuid}/config",
    "/v2/databases/{database_cluster_uuid}/dbs",
    "/v2/databases/{database_cluster_uuid}/dbs/{database_name}",
    "/v2/databases/{database_cluster_uuid}/events",
    "/v2/databases/{database_cluster_uuid}/firewall",
    "/v2/databases/{database_cluster_uuid}/install_update",
    "/v2/databases/{database_cluster_uuid}/maintenance",
    "/v2/databases/{database_cluster_uuid}/pools",
    "/v2/databases/{database_cluster_uuid}/pools/{pool_name}",
    "/v2/databases/{database_cluster_uuid}/resize",
    "/v2/databases/{database_cluster_uuid}/users",
    "/v2/databases/{database_cluster_uuid}/users/{username}",
    "/v2/apps",
    "/v2/apps/propose",
    "/v2/apps/{id}",
    "/v2/apps/{app_id}/restart",
    "/v2/apps/{app_id}/deployments",
    "/v2/apps/{app_id}/deployments/{deployment_id}",
)

_REF = re.compile(r"^#/components/([^/]+)/([^/]+)$")


def _refs(node: Any) -> set[tuple[str, str]]:
    """Every ``#/components/KIND/NAME`` that ``node`` refers to directly."""
    found: set[tuple[str, str]] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str):
                m = _REF.match(ref)
                if m is None:
                    raise ValueError(f"not a bundled description: external or unusual $ref {ref!r}")
                found.add((m[1], m[2].replace("~1", "/").replace("~0", "~")))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def trim(full: dict[str, Any], paths: tuple[str, ...] = PATHS) -> dict[str, Any]:
    """A copy of ``full`` with only ``paths`` and the components they reach."""
    missing = [p for p in paths if p not in full["paths"]]
    if missing:
        raise ValueError(f"paths not in the description: {', '.join(missing)}")
    kept_paths = {p: full["paths"][p] for p in paths}
    components: dict[str, Any] = full.get("components", {})
    wanted: set[tuple[str, str]] = set()
    todo = _refs(kept_paths)
    while todo:
        kind, name = todo.pop()
        if (kind, name) in wanted:
            continue
        wanted.add((kind, name))
        todo |= _refs(components[kind][name]) - wanted
    kept_components: dict[str, Any] = {}
    for kind, entries in components.items():
        keep = {n: v for n, v in entries.items() if (kind, n) in wanted or kind == "securitySchemes"}
        if keep:
            kept_components[kind] = dict(sorted(keep.items()))
    used_tags = {t for item in kept_paths.values() for op in item.values() if isinstance(op, dict)
                 for t in op.get("tags", ())}
    out = {k: v for k, v in full.items() if k not in ("paths", "components", "tags")}
    out["tags"] = [t for t in full.get("tags", []) if t["name"] in used_tags]
    out["paths"] = kept_paths
    out["components"] = kept_components
    return out


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[0])
    target = Path(argv[1]) if len(argv) == 2 else Path(__file__).with_name("do-databases-apps.json")
    trimmed = trim(json.loads(source.read_text()))
    target.write_text(json.dumps(trimmed, indent=1, ensure_ascii=False) + "\n")
    print(f"{target}: {len(trimmed['paths'])} paths, {target.stat().st_size} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
