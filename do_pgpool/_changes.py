"""The one shape of a change, for every operation: ``Action``, ``Change(before, after)`` and ``Plan``. Pure.

Each operation (pool, resize, restart) has a pure ``plan_*`` that returns a ``Plan`` of ``Change`` objects, an
``apply_*`` that carries it out, and a convenience call doing both. A ``Change`` says what it does (its
``Action``), what it acts on, and the state before and after, as Terraform's plans do. Results carry the
``Action`` and whether the run was a dry run, and derive their words from both, so no caller parses a string.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar

__all__ = ["Action", "Change", "Plan", "Result"]

T = TypeVar("T")


class Action(str, Enum):
    """What a change does to its subject. The value is the verb; ``symbol`` is the plan's margin mark."""

    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NONE = "none"

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    def word(self, *, dry_run: bool = False, verb: str | None = None) -> str:
        """``created`` / ``would create`` / ``unchanged``; ``verb`` names an operation's own verb (``resize``)."""
        if self is Action.NONE:
            return "unchanged"
        verb = verb or self.value
        return f"would {verb}" if dry_run else _past(verb)

    def __str__(self) -> str:
        return self.value


_SYMBOLS = {Action.CREATE: "+", Action.UPDATE: "~", Action.REPLACE: "-/+", Action.DELETE: "-", Action.NONE: "="}


def _past(verb: str) -> str:
    return f"{verb}d" if verb.endswith("e") else f"{verb}ed"


@dataclass(frozen=True)
class Change(Generic[T]):
    """One change: ``action`` on ``subject`` (e.g. ``pool 'web'``), from ``before`` to ``after`` (None: absent).

    ``verb`` overrides the action's own word where an operation has a better one (``resize``); ``detail`` is
    what a reader needs to judge it (the fields that differ, what it drops).
    """

    action: Action
    subject: str
    before: T | None
    after: T | None
    detail: str = ""
    verb: str = ""

    def describe(self) -> str:
        text = f"{self.action.symbol} {self.verb or self.action.value} {self.subject}"
        return f"{text}: {self.detail}" if self.detail else text


class Plan:
    """What an operation would change. Subclasses are frozen dataclasses with ``changes`` and ``warnings``."""

    changes: tuple[Change[Any], ...]
    warnings: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.changes)

    @property
    def action(self) -> Action:
        """The first change's action (plans here hold at most one), or ``Action.NONE``."""
        return self.changes[0].action if self.changes else Action.NONE


class Result:
    """What an operation did: its ``action``, whether it was a ``dry_run`` (it only says what it would do), and
    whether it ``waited`` for the change to finish. Subclasses are frozen dataclasses with these fields (those
    that never wait leave ``waited`` to this class) and may name their verb (``resize``)."""

    action: Action
    dry_run: bool
    waited: bool = True
    verb: ClassVar[str] = ""
    #: the word for Action.NONE
    nothing: ClassVar[str] = "unchanged"

    @property
    def changed(self) -> bool:
        return self.action is not Action.NONE and not self.dry_run

    @property
    def outcome(self) -> str:
        """``created``, ``would resize``, ``requested`` (sent, not waited for), ``unchanged``...: for people and
        JSON; code reads ``action``, ``dry_run`` and ``waited``."""
        if self.action is Action.NONE:
            return self.nothing
        if self.changed and not self.waited:
            return "requested"
        return self.action.word(dry_run=self.dry_run, verb=self.verb or None)
