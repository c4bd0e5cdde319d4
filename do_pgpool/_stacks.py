"""Which stacks an application uses, read from its repository's manifests: the key the advice is chosen by.

Pure and bounded: walks at most :data:`MAX_DIRS` folders, no deeper than :data:`MAX_DEPTH` below the app directory,
and reads at most :data:`MAX_FILES` manifest files of at most :data:`MAX_BYTES` each, skipping dependency and build
folders (``node_modules``, ``vendor``, ``.venv``, ...) and folders of examples (``tests``, ``fixtures``,
``examples``, ``docs``). Links to folders are not followed (one may loop, or lead out of the repository); a manifest
that links to a regular file is read, one that is anything else (a pipe, a device) is not opened. Every
:class:`Detection` says why: the file and the line or dependency that matched. A monorepo reports every stack
found, each with its own file. Within one folder a framework covers the driver it runs on (Django covers
psycopg, Knex covers pg): the driver is not reported again there.

A manifest that cannot be read (malformed JSON or TOML, too large, not a file) is reported as a :class:`Problem`
naming the file; the other files are still read. So is a folder that cannot be listed, and where a bound stopped the
walk: the result then says it is partial.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._exceptions import Param, Part

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_DIRS",
    "MAX_FILES",
    "STACKS",
    "Detection",
    "Detections",
    "Problem",
    "Stack",
    "detect_stacks",
    "stack_key",
]

MAX_DEPTH = 4
MAX_DIRS = 5_000
MAX_FILES = 500
MAX_BYTES = 2_000_000
_SKIP_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "vendor", ".venv", "venv", "env", "__pycache__", ".tox", ".nox",
    "dist", "build", "target", ".next", ".gradle", ".idea", "site-packages", ".mypy_cache", ".ruff_cache",
    # not the app: their manifests are examples (the app directory itself is always read, whatever its name)
    "test", "tests", "testdata", "fixtures", "examples", "docs",
})


@dataclass(frozen=True)
class Stack:
    """A stack the advice knows: ``key`` is what ``--stack`` takes."""

    key: str
    title: str
    language: str
    #: it needs session features (LISTEN/NOTIFY, session advisory locks): a transaction pool cannot serve it
    needs_session: bool = False


#: Every stack, in the order the advice prints them.
STACKS: tuple[Stack, ...] = (
    Stack("django", "Django (psycopg 3)", "Python"),
    Stack("psycopg", "psycopg 3", "Python"),
    Stack("psycopg2", "psycopg2 (and Django or SQLAlchemy on it)", "Python"),
    Stack("sqlalchemy", "SQLAlchemy (psycopg 3)", "Python"),
    Stack("sqlalchemy-asyncpg", "SQLAlchemy (asyncpg)", "Python"),
    Stack("asyncpg", "asyncpg", "Python"),
    Stack("rails", "Rails / ActiveRecord (pg)", "Ruby"),
    Stack("prisma", "Prisma 6 and older", "Node"),
    Stack("prisma7", "Prisma 7", "Node"),
    Stack("node-postgres", "node-postgres (pg)", "Node"),
    Stack("postgres-js", "postgres.js", "Node"),
    Stack("knex", "Knex (pg)", "Node"),
    Stack("sequelize", "Sequelize (pg)", "Node"),
    Stack("typeorm", "TypeORM (pg)", "Node"),
    Stack("drizzle", "Drizzle ORM", "Node"),
    Stack("pgx5", "Go pgx v5", "Go"),
    Stack("pgx4", "Go pgx v4", "Go"),
    Stack("lib-pq", "Go lib/pq", "Go"),
    Stack("jdbc", "Java JDBC (pgjdbc)", "Java"),
    Stack("laravel", "Laravel (PDO pgsql)", "PHP"),
    Stack("pdo-pgsql", "PHP PDO (pgsql)", "PHP"),
    Stack("good-job", "GoodJob", "Ruby", needs_session=True),
    Stack("graphile-worker", "Graphile Worker", "Node", needs_session=True),
    Stack("hasura", "Hasura GraphQL Engine", "Docker", needs_session=True),
)
_BY_KEY = {s.key: s for s in STACKS}

#: Within one folder, a framework covers the drivers it runs on.
_COVERS: dict[str, frozenset[str]] = {
    "django": frozenset({"psycopg"}),
    "sqlalchemy": frozenset({"psycopg"}),
    "sqlalchemy-asyncpg": frozenset({"asyncpg"}),
    "prisma7": frozenset({"node-postgres"}),
    "knex": frozenset({"node-postgres"}),
    "sequelize": frozenset({"node-postgres"}),
    "typeorm": frozenset({"node-postgres"}),
    "drizzle": frozenset({"node-postgres", "postgres-js"}),
    "laravel": frozenset({"pdo-pgsql"}),
    "good-job": frozenset(),
}


@dataclass(frozen=True)
class Detection:
    """One stack found: in ``file`` (relative to the app directory) because of ``evidence`` (at ``line``)."""

    stack: str
    file: str
    evidence: str
    line: int | None = None

    @property
    def title(self) -> str:
        return _BY_KEY[self.stack].title

    def describe(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{self.stack} ({where}: {self.evidence})"

    def as_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "file": self.file, "line": self.line, "evidence": self.evidence}


@dataclass(frozen=True)
class Problem:
    """A manifest that could not be read: named, with why; detection goes on with the other files."""

    file: str
    reason: str

    def describe(self) -> str:
        return f"{self.file}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True)
class Detections:
    """What :func:`detect_stacks` found in ``app_dir``."""

    app_dir: str
    found: tuple[Detection, ...]
    problems: tuple[Problem, ...] = ()

    @property
    def stacks(self) -> tuple[str, ...]:
        """The stack keys found, each once, in :data:`STACKS` order."""
        keys = {d.stack for d in self.found}
        return tuple(s.key for s in STACKS if s.key in keys)

    def nothing_found(self) -> list[Part]:
        """The message when nothing was found: where, what was looked for, and the known stacks (parts of a
        ``ConfigError``: the stack is a parameter)."""
        known = ", ".join(s.key for s in STACKS)
        text = (f"no PostgreSQL stack detected in {self.app_dir} (looked at requirements*.txt, pyproject.toml, "
                "Pipfile, poetry.lock, uv.lock, Gemfile(.lock), package.json (+ its lock file), go.mod, pom.xml, "
                "build.gradle(.kts), composer.json/.lock, docker-compose*.yml); name it with ")
        tail = f", one of: {known}"
        if self.problems:
            tail += "; unreadable: " + "; ".join(p.describe() for p in self.problems)
        return [text, Param("stack", "NAME"), tail]

    def as_dict(self) -> dict[str, Any]:
        return {"app_dir": self.app_dir, "stacks": list(self.stacks), "found": [d.as_dict() for d in self.found],
                "problems": [p.as_dict() for p in self.problems]}


def stack_keys() -> tuple[str, ...]:
    return tuple(s.key for s in STACKS)


#: Other names people use for a stack (after :func:`stack_key`'s normalising: lower case, ``-`` for ``_./+``).
ALIASES: dict[str, str] = {
    "psycopg3": "psycopg", "psycopg-3": "psycopg", "activerecord": "rails", "ruby-on-rails": "rails",
    "prisma6": "prisma", "prisma5": "prisma", "prisma-6": "prisma", "prisma-7": "prisma7",
    "pg": "node-postgres", "node-pg": "node-postgres", "postgresjs": "postgres-js", "postgres": "postgres-js",
    "bun": "postgres-js", "drizzle-orm": "drizzle", "pgx": "pgx5", "pgx-v5": "pgx5", "pgx-v4": "pgx4",
    "libpq": "lib-pq", "pq": "lib-pq", "java": "jdbc", "pgjdbc": "jdbc", "spring": "jdbc", "pdo": "pdo-pgsql",
    "php": "pdo-pgsql", "goodjob": "good-job", "graphile": "graphile-worker", "asyncpg-sqlalchemy":
    "sqlalchemy-asyncpg", "sqlalchemy-psycopg": "sqlalchemy", "sqlalchemy-psycopg3": "sqlalchemy",
}


def stack_key(name: str, known: tuple[str, ...] | None = None) -> str:
    """The stack key for ``name`` as a person may type it (``Django``, ``good_job``, ``lib/pq``, ``postgres.js``,
    ``SQLAlchemy+asyncpg``, an alias such as ``pgjdbc``), among ``known`` (default: every stack).

    Raises ConfigError naming the closest keys (a typo) and the known ones.
    """
    import difflib

    from ._exceptions import ConfigError

    keys = known if known is not None else stack_keys()
    word = re.sub(r"[\s_./+]+", "-", name.strip().lower())
    key = word if word in keys else ALIASES.get(word, "")
    if key in keys:
        return key
    close = difflib.get_close_matches(word, [*keys, *(a for a, k in ALIASES.items() if k in keys)], n=3, cutoff=0.6)
    guesses = list(dict.fromkeys(k if k in keys else ALIASES[k] for k in close))
    hint = f"did you mean {' or '.join(guesses)}? " if guesses else ""
    raise ConfigError(f"{name!r} is not a stack this knows; {hint}one of: {', '.join(keys)}")


def detect_stacks(app_dir: str | os.PathLike[str] = ".") -> Detections:
    """Read the manifests under ``app_dir`` and say which stacks they use (see the module's docstring).

    Raises ``NotADirectoryError`` when ``app_dir`` is not a directory.
    """
    root = Path(app_dir)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    found: list[Detection] = []
    problems: list[Problem] = []
    by_dir: dict[Path, list[Detection]] = {}
    python: dict[Path, list[_PyDep]] = {}
    for path in _manifests(root, problems):
        rel = path.relative_to(root).as_posix()
        reader = _READERS[_kind(path.name)]
        try:
            text = _read_manifest(path)
            hits = list(_package_json(rel, text, path) if reader is _package_json else reader(rel, text))
        except _Malformed as exc:
            problems.append(Problem(rel, str(exc)))
            continue
        except OSError as exc:
            problems.append(Problem(rel, exc.strerror or type(exc).__name__))
            continue
        for h in hits:
            if isinstance(h, _PyDep):
                python.setdefault(path.parent, []).append(h)
            elif isinstance(h, Detection):
                by_dir.setdefault(path.parent, []).append(h)
    for folder, deps in python.items():
        by_dir.setdefault(folder, []).extend(_python_hits(deps))
    for group in by_dir.values():
        keys = {h.stack for h in group}
        covered = set().union(*(_COVERS.get(k, frozenset()) for k in keys))
        seen: set[str] = set()
        for hit in group:
            if hit.stack in covered or hit.stack in seen:
                continue
            seen.add(hit.stack)
            found.append(hit)
    order = {s.key: i for i, s in enumerate(STACKS)}
    found.sort(key=lambda d: (order[d.stack], d.file))
    return Detections(str(app_dir), tuple(found), tuple(problems))


# --- walking ------------------------------------------------------------------------------------------------

_NAMES = re.compile(
    r"^(requirements[\w.-]*\.txt|pyproject\.toml|Pipfile|poetry\.lock|uv\.lock|Gemfile|Gemfile\.lock|package\.json|"
    r"go\.mod|pom\.xml|build\.gradle(\.kts)?|composer\.json|composer\.lock|docker-compose[\w.-]*\.ya?ml|"
    r"compose\.ya?ml)$"
)


def _kind(name: str) -> str:
    if name.startswith("requirements"):
        return "requirements"
    if name.startswith("build.gradle"):
        return "gradle"
    if name.startswith(("docker-compose", "compose.")):
        return "compose"
    return name


def _manifests(root: Path, problems: list[Problem]) -> Iterator[Path]:
    """The manifests under ``root``, in a stable order and within the bounds; a folder that cannot be listed, and
    the place where a bound stopped the walk, are added to ``problems``."""

    def unlisted(exc: OSError) -> None:
        where = Path(exc.filename).relative_to(root).as_posix() if exc.filename else "."
        problems.append(Problem(where, f"folder not listed ({exc.strerror or type(exc).__name__})"))

    files = 0
    for folders, (dirpath, dirnames, filenames) in enumerate(os.walk(root, onerror=unlisted), 1):
        here = Path(dirpath)
        if folders > MAX_DIRS:
            problems.append(Problem(here.relative_to(root).as_posix(), f"not read, nor any folder after it: more "
                                    f"than {MAX_DIRS} folders to walk (point at the app's own folder)"))
            return
        depth = len(here.relative_to(root).parts)
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")) \
            if depth < MAX_DEPTH else []
        for name in sorted(filenames):
            if _NAMES.match(name):
                files += 1
                if files > MAX_FILES:
                    problems.append(Problem((here / name).relative_to(root).as_posix(), f"not read, nor any "
                                            f"manifest after it: more than {MAX_FILES} manifests (point at the "
                                            "app's own folder)"))
                    return
                yield here / name


def _read_manifest(path: Path) -> str:
    """The text of a manifest, if it is a regular file of at most ``MAX_BYTES``. Opened without blocking, so a
    pipe named like a manifest cannot hang the walk; its size is read from the open file, and no more than the
    bound is read even if it grows meanwhile."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _Malformed("not a regular file, not read")
        data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _Malformed(f"larger than {MAX_BYTES} bytes, not read")
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")  # as read_text() would


class _Malformed(Exception):
    """A manifest that is not read: its syntax is broken (the message says where), or it is not a file of the
    size a manifest has."""


def _line_of(text: str, needle: str) -> int | None:
    """The first line (1-based) that mentions ``needle`` (case-insensitive), for the evidence."""
    low = needle.lower()
    for number, line in enumerate(text.splitlines(), 1):
        if low in line.lower():
            return number
    return None


# --- Python -------------------------------------------------------------------------------------------------

_PY_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class _PyDep:
    """A Python distribution named in a manifest: the manifests of one folder are one project."""

    name: str
    file: str
    line: int | None


def _py_deps(rel: str, text: str, names: list[str]) -> Iterator[_PyDep]:
    for name in names:
        yield _PyDep(name, rel, _line_of(text, name))


def _python_hits(deps: list[_PyDep]) -> Iterator[Detection]:
    """Python stacks from the distributions named in one folder's manifests (the first mention is the evidence)."""
    have: dict[str, _PyDep] = {}
    for dep in deps:
        have.setdefault(_normalize(dep.name), dep)
    psycopg = next((have[n] for n in ("psycopg", "psycopg-binary", "psycopg-c", "psycopg-pool") if n in have), None)
    asyncpg = have.get("asyncpg")

    def hit(stack: str, first: _PyDep, *more: _PyDep) -> Detection:
        names = [first.name] + [d.name if d.file == first.file else f"{d.name} ({d.file}:{d.line})" for d in more]
        return Detection(stack, first.file, "dependency " + " + ".join(names), first.line)

    # psycopg2 binds on the client and never prepares, and refuses psycopg 3's prepare_threshold: its own advice
    psycopg2 = None if psycopg else next((have[n] for n in ("psycopg2", "psycopg2-binary") if n in have), None)
    if "django" in have:
        yield hit("psycopg2", have["django"], psycopg2) if psycopg2 else hit("django", have["django"])
    if "sqlalchemy" in have:
        if asyncpg:
            yield hit("sqlalchemy-asyncpg", have["sqlalchemy"], asyncpg)
        if psycopg2:
            yield hit("psycopg2", have["sqlalchemy"], psycopg2)
        elif psycopg or not asyncpg:
            yield hit("sqlalchemy", have["sqlalchemy"], *([psycopg] if psycopg else []))
    if psycopg:
        yield hit("psycopg", psycopg)
    if psycopg2:
        yield hit("psycopg2", psycopg2)
    if asyncpg:
        yield hit("asyncpg", asyncpg)


def _requirements(rel: str, text: str) -> Iterator[_PyDep]:
    names = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        m = _PY_NAME.match(line)
        if m:
            names.append(m.group(1))
    yield from _py_deps(rel, text, names)


#: Python 3.10 has no tomllib: pyproject.toml and Pipfile are then scanned as text (tests switch it off)
_TOMLLIB = sys.version_info >= (3, 11)


def _toml(rel: str, text: str) -> dict[str, Any]:
    if not _TOMLLIB:  # the caller scans the text
        return {"__text_only__": True}
    tomllib = importlib.import_module("tomllib")  # not a plain import: mypy checks for Python 3.10
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        raise _Malformed(f"not valid TOML ({exc})") from None


def _requirement_names(specs: Any) -> list[str]:
    names = []
    for spec in specs if isinstance(specs, list) else []:
        if isinstance(spec, str):
            m = _PY_NAME.match(spec)
            if m:
                names.append(m.group(1))
    return names


def _quoted_names(text: str) -> list[str]:
    """Python 3.10 has no tomllib: every quoted requirement and every ``name =`` key is a candidate name."""
    names = re.findall(r"[\"']([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:[<>=!~;@ ]|[\"'])", text)
    names += re.findall(r"(?m)^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*=", text)
    names += re.findall(r"(?m)^\s*name\s*=\s*[\"']([^\"']+)[\"']", text)
    return names


def _pyproject(rel: str, text: str) -> Iterator[_PyDep]:
    data = _toml(rel, text)
    if data.get("__text_only__"):
        yield from _py_deps(rel, text, _quoted_names(text))
        return
    names: list[str] = []
    project = data.get("project", {})
    if isinstance(project, dict):
        names += _requirement_names(project.get("dependencies"))
        for group in (project.get("optional-dependencies") or {}).values():
            names += _requirement_names(group)
    for group in (data.get("dependency-groups") or {}).values():  # PEP 735 (uv)
        names += _requirement_names(group)
    tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    uv = tool.get("uv", {}) if isinstance(tool.get("uv"), dict) else {}
    names += _requirement_names(uv.get("dev-dependencies"))
    poetry = tool.get("poetry", {}) if isinstance(tool.get("poetry"), dict) else {}
    tables = [poetry.get("dependencies"), poetry.get("dev-dependencies")]
    tables += [g.get("dependencies") for g in (poetry.get("group") or {}).values() if isinstance(g, dict)]
    for table in tables:
        if isinstance(table, dict):
            names += list(table)
    yield from _py_deps(rel, text, names)


def _pipfile(rel: str, text: str) -> Iterator[_PyDep]:
    data = _toml(rel, text)
    if data.get("__text_only__"):
        yield from _py_deps(rel, text, _quoted_names(text))
        return
    names = [n for table in ("packages", "dev-packages") if isinstance(data.get(table), dict) for n in data[table]]
    yield from _py_deps(rel, text, names)


def _python_lock(rel: str, text: str) -> Iterator[_PyDep]:
    """poetry.lock and uv.lock: ``[[package]]`` tables with ``name = "..."``."""
    yield from _py_deps(rel, text, re.findall(r"(?m)^name\s*=\s*\"([^\"]+)\"", text))


# --- Ruby ---------------------------------------------------------------------------------------------------


def _gems(rel: str, text: str, names: list[str]) -> Iterator[Detection]:
    have = set(names)
    orm = next((g for g in ("rails", "activerecord") if g in have), None)
    if orm and "pg" in have:
        yield Detection("rails", rel, f"gems {orm} + pg", _line_of(text, f" {orm} ") or _line_of(text, orm))
    if "good_job" in have:
        yield Detection("good-job", rel, "gem good_job (LISTEN/NOTIFY, session advisory locks)",
                        _line_of(text, "good_job"))


def _gemfile_lock(rel: str, text: str) -> Iterator[Detection]:
    yield from _gems(rel, text, re.findall(r"(?m)^    ([A-Za-z0-9_.-]+) \(", text))


def _gemfile(rel: str, text: str) -> Iterator[Detection]:
    yield from _gems(rel, text, re.findall(r"(?m)^\s*gem\s+[\"']([A-Za-z0-9_.-]+)[\"']", text))


# --- Node ---------------------------------------------------------------------------------------------------

_NODE: tuple[tuple[str, str], ...] = (
    ("pg", "node-postgres"), ("postgres", "postgres-js"), ("knex", "knex"), ("sequelize", "sequelize"),
    ("typeorm", "typeorm"), ("drizzle-orm", "drizzle"),
    ("graphile-worker", "graphile-worker"),
)


def _package_json(rel: str, text: str, path: Path | None = None) -> Iterator[Detection]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Malformed(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise _Malformed("not a JSON object")
    deps: dict[str, str] = {}
    for table in ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies"):
        if isinstance(data.get(table), dict):
            deps.update({k: str(v) for k, v in data[table].items()})
    prisma = next((p for p in ("prisma", "@prisma/client") if p in deps), None)
    if prisma:
        version, where = _prisma_major(path.parent if path else None, deps[prisma])
        key = "prisma7" if version is None or version >= 7 else "prisma"
        shown = f"major {version}" if version is not None else "version unknown: assumed 7, the current one"
        yield Detection(key, rel, f"dependency {prisma} {deps[prisma]!r} ({shown}{where})",
                        _line_of(text, f'"{prisma}"'))
    for dep, key in _NODE:
        if dep in deps:
            yield Detection(key, rel, f"dependency {dep} {deps[dep]!r}", _line_of(text, f'"{dep}"'))


#: The version a lock file pins: yarn.lock (``prisma@^6.2.0:`` then ``version "6.2.1"``), pnpm-lock.yaml
#: (``prisma@6.2.1:`` or ``/prisma@6.2.1:`` keys)
_YARN = re.compile(r'(?m)^"?(?:prisma|@prisma/client)@[^\n]*:\n\s+version:? "?(\d+[^"\s]*)')
_PNPM = re.compile(r"(?m)^\s+['\"]?/?(?:prisma|@prisma/client)@(\d+\.[^:('\"\s]*)")


def _prisma_major(folder: Path | None, spec: str) -> tuple[int | None, str]:
    """Prisma's major version: from the lock file beside package.json when there is one (package-lock.json,
    yarn.lock, pnpm-lock.yaml), else from the range."""
    for name in ("package-lock.json", "yarn.lock", "pnpm-lock.yaml"):
        if folder is None:
            break
        try:
            text = _read_manifest(folder / name)
        except (_Malformed, OSError):  # none there, or not one to read
            continue
        version = _locked_version(name, text)
        if version is not None:
            return int(version.split(".")[0]), f", {version} in {name}"
    m = re.search(r"(\d+)", spec)
    return (int(m.group(1)), "") if m else (None, "")


def _locked_version(name: str, text: str) -> str | None:
    if name != "package-lock.json":
        m = (_YARN if name == "yarn.lock" else _PNPM).search(text)
        return m.group(1) if m else None
    try:
        packages = json.loads(text).get("packages", {})
    except (json.JSONDecodeError, AttributeError):
        return None
    for key in ("node_modules/prisma", "node_modules/@prisma/client"):
        entry = packages.get(key) if isinstance(packages, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("version"), str) and re.match(r"\d", entry["version"]):
            return str(entry["version"])
    return None


# --- Go, Java, PHP, Docker ----------------------------------------------------------------------------------


def _go_mod(rel: str, text: str) -> Iterator[Detection]:
    for module, key in (("github.com/jackc/pgx/v5", "pgx5"), ("github.com/jackc/pgx/v4", "pgx4"),
                        ("github.com/lib/pq", "lib-pq")):
        line = _line_of(text, module + " ")
        if line:
            yield Detection(key, rel, f"module {module}", line)


def _java(rel: str, text: str) -> Iterator[Detection]:
    line = _line_of(text, "org.postgresql")
    if line:
        yield Detection("jdbc", rel, "dependency org.postgresql:postgresql (pgjdbc)", line)


def _composer(rel: str, text: str) -> Iterator[Detection]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Malformed(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    names: set[str] = set()
    if isinstance(data, dict):
        for table in ("require", "require-dev"):
            if isinstance(data.get(table), dict):
                names |= set(data[table])
        for table in ("packages", "packages-dev"):  # composer.lock
            for pkg in data.get(table) or []:
                if isinstance(pkg, dict) and isinstance(pkg.get("name"), str):
                    names.add(pkg["name"])
    if "laravel/framework" in names:
        yield Detection("laravel", rel, "package laravel/framework", _line_of(text, '"laravel/framework"'))
    for ext in ("ext-pdo_pgsql", "ext-pgsql"):
        if ext in names:
            yield Detection("pdo-pgsql", rel, f"requires {ext}", _line_of(text, f'"{ext}"'))
            break


def _compose(rel: str, text: str) -> Iterator[Detection]:
    line = _line_of(text, "hasura/graphql-engine")
    if line:
        yield Detection("hasura", rel, "image hasura/graphql-engine",
                        line)


_READERS: dict[str, Callable[[str, str], Iterator[Detection | _PyDep]]] = {
    "requirements": _requirements, "pyproject.toml": _pyproject, "Pipfile": _pipfile, "poetry.lock": _python_lock,
    "uv.lock": _python_lock, "Gemfile": _gemfile, "Gemfile.lock": _gemfile_lock, "package.json": _package_json,
    "go.mod": _go_mod, "pom.xml": _java, "gradle": _java, "composer.json": _composer, "composer.lock": _composer,
    "compose": _compose,
}
