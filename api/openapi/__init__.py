"""The HTTP API's description, built from the routes' own declarations (api/openapi/declare.py)."""
