"""Secret targets: where a connection string goes (GitHub, App Platform, .env, stdout) and which value it gets.

``_parse.parse_target()`` turns ``--secret`` text into a target; ``_write.write_secrets()`` writes (or plans)
one value per secret name to each target independently; ``_write.connection_string_for()`` picks the URI and
refuses a password-less one; ``_secret_values`` builds the values; ``_dotenv``/``_dotenv_io`` edit .env files.

May import api/ and the top-level pure modules. Never postgres/, ops/, cli/ or the package root. No re-exports
(importing this package must stay free, so a run that writes no secret loads no target code): import from the
module that owns a name.
"""
