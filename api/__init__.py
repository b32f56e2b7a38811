"""The HTTP API: `create_app()` in api.app, one blueprint per resource under api.routes."""
