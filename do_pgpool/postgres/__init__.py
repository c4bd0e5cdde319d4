"""The PostgreSQL side (psycopg): connecting, usage snapshots and verdicts, terminating idle sessions, and
verifying that a pool answers.

May import api/ and the top-level pure modules. Never targets/, ops/, cli/ or the package root. No
re-exports: import from the module that owns a name.
"""
