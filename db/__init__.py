"""Data layer: tables, engines and sessions, queries, bulk COPY I/O, the model registry."""
