"""The PostgreSQL side (psycopg): ``_connect`` (connecting; every driver error becomes a DatabaseError with the
facts ``saturated``/``unreachable``/``login_retry``, the one place a message is read), ``_usage`` (the
``pg_stat_activity`` snapshot and its verdict), ``_terminate`` (finding and terminating idle sessions) and
``_verify`` (``SELECT 1`` through a pool, bounded).

May import api/ and the top-level pure modules. Never targets/, ops/, cli/ or the package root. No
re-exports: import from the module that owns a name.
"""
