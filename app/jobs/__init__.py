"""Background jobs: exports and imports, acknowledged with 202 and done by the worker."""
