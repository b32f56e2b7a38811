"""The api image's HEALTHCHECK: exit 0 when GET /health answers 200 on the port it serves.

`skserve api` listens on PORT; SageMaker's `serve` on SAGEMAKER_BIND_TO_PORT (8080 by default)
whatever PORT says, and replaces itself with gunicorn, so the check cannot tell which one runs:
it asks both ports and is healthy when either answers. Standard library only: importing skserve
takes longer than the check's 3 s timeout on a busy machine.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from collections.abc import Mapping

API_PORT = "8000"  # skserve api's default
SAGEMAKER_PORT = "8080"  # skserve.cli.serve.SAGEMAKER_PORT (tests/deploy checks they agree)


def ports(environ: Mapping[str, str]) -> list[str]:
    """The api's port, then serve's (once if they are the same)."""
    api = environ.get("PORT") or API_PORT
    return list(dict.fromkeys([api, environ.get("SAGEMAKER_BIND_TO_PORT") or SAGEMAKER_PORT]))


def healthy(port: str) -> bool:
    """GET /health on this container's port answers 200 within 2 s."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(0 if any(healthy(port) for port in ports(os.environ)) else 1)
