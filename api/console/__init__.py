"""The web console at /ui/: models, versions, jobs and monitoring in the browser."""

from api.console.pages import bp

__all__ = ["bp"]
