"""The vendored OpenAPI description is complete, self-contained and reproducible by its trim script; no test
reads anything outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from do_pgpool.testing import openapi
from do_pgpool.testing.openapi.trim import PATHS, trim

REPO = Path(__file__).resolve().parents[2]


def test_the_vendored_copy_is_a_fixed_point_of_the_trim_script() -> None:
    spec = openapi.load()
    assert list(spec["paths"]) == list(PATHS)
    assert trim(spec) == spec  # every component kept is reachable, and none is missing


def test_it_ships_with_its_licence_and_its_origin() -> None:
    here = openapi.SPEC_PATH.parent
    assert "Apache License" in (here / "LICENSE").read_text()
    assert openapi.COMMIT in (here / "README.md").read_text()


def test_trim_refuses_a_description_with_a_dangling_or_external_reference() -> None:
    broken = {"paths": {"/v2/account": {"get": {"responses": {"200": {"$ref": "other.yml#/x"}}}}}, "components": {}}
    with pytest.raises(ValueError, match="external or unusual"):
        trim(broken, ("/v2/account",))
    with pytest.raises(ValueError, match="paths not in the description: /v2/nope"):
        trim(broken, ("/v2/nope",))


def test_no_test_reads_outside_the_repository() -> None:
    outside = re.compile(r"parents\[[2-9]\]|/work/|\.\./shared|\"shared\" / \"do-openapi\"")
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for path in [*REPO.glob("tests/**/*.py"), *REPO.glob("benchmarks/**/*.py"), *REPO.glob("demo/**/*.py")]
        if path.name != Path(__file__).name
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if outside.search(line)
    ]
    assert offenders == []


def test_the_fakes_size_options_are_digitaloceans_own_example() -> None:
    from do_pgpool.testing._options import PG_OPTIONS

    example = openapi.load()["components"]["responses"]["options"]["content"]["application/json"]["example"]
    assert PG_OPTIONS["options"]["pg"]["layouts"] == example["options"]["pg"]["layouts"]
    assert PG_OPTIONS["options"]["pg"]["versions"] == example["options"]["pg"]["versions"]
