"""The operations: one module per thing a user asks for (a pool on one cluster, fleet fan-out, resize,
restart, wait, fix, status, rewrite a secret, terminate idle sessions). Each composes the layers below it and
returns typed results; none prints.

Each operation has one shape (``_changes.py``): a pure ``plan_*`` returning a ``Plan`` of ``Change(before, after)``
with an ``Action``; ``prepare_*`` reads and plans; ``apply_*(plan, dry_run=...)`` carries it out and returns a
``Result`` (action, dry_run, waited); the convenience call (``ensure_pool``, ``resize``, ``restart_*``) does both.

May import targets/, postgres/, api/ and the top-level pure modules. Never cli/ or the package root. No
re-exports: import from the module that owns a name.
"""
