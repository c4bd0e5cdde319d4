"""The operations: one module per thing a user asks for (plan and ensure a pool, fleet fan-out, resize,
restart, wait, fix, status). Each composes the layers below it and returns typed results; none prints.

May import targets/, postgres/, api/ and the top-level pure modules. Never cli/ or the package root. No
re-exports: import from the module that owns a name.
"""
