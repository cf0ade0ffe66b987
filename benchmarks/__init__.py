"""Benchmarks of the ingest job, the catalog and the app (``make bench``); not part of the installed packages."""
