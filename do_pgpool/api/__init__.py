"""The HTTP clients: DigitalOcean (pydo behind ``_gateway``, the only pydo importer) and GitHub, with their
transport, retry, rate limiter, header parsing, token and URL checks, and polling.

May import only the top-level pure modules (``do_pgpool._models``, ``_exceptions``, ``_inputs``...). Never
targets/, postgres/, ops/, cli/ or the package root. No re-exports: import from the module that owns a name.
"""
