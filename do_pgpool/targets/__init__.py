"""Secret targets: where a connection string goes (GitHub, App Platform, .env, stdout) and which value it gets.

``_spec.SecretsSpec`` is the one form of "which strings go where" (targets, names, public or VPC, the database
user of an inbound-user pool, GitHub client, redeploy), from the CLI's options to the writer. ``_parse.parse_target()``
turns ``--secret`` text into a target; ``_write.write_secrets()`` is the one writer (each target independently,
one typed outcome each) and ``_write.write_pool_secrets()`` the whole job for one confirmed pool (values, then
write; never raises), as ensure-pool, the fleet, fix and rewrite_secret use them; ``_secret_values`` builds the
values (``connection_string_for`` refuses a password-less one); ``_dotenv``/``_dotenv_io`` edit .env files.

May import api/ and the top-level pure modules. Never postgres/, ops/, cli/ or the package root. No re-exports
(importing this package must stay free, so a run that writes no secret loads no target code): import from the
module that owns a name.
"""
