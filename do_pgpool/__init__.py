"""do-pgpool: take a DigitalOcean managed PostgreSQL cluster out of connection exhaustion and keep it out."""

__version__ = "0.1.0"
