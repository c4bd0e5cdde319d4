"""`make bench`: python -m benchmarks.run (not part of make test)."""
