"""The base URL that examples shown to clients (/usage) start with.

A client's `Host` header is not trusted blindly: it is used only when it is a well-formed
host[:port], so a hostile header cannot write itself into the examples.
"""

from __future__ import annotations

import ipaddress
import re

from flask import Request

from settings import Settings

PLACEHOLDER = "http://localhost:8000"
# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
HOST_AND_PORT = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?")


def public_base_url(request: Request, settings: Settings) -> str:
    """PUBLIC_URL when set, else the request's scheme and well-formed host, else a placeholder;
    never with a trailing slash."""
    if settings.public_url:
        return settings.public_url
    host = request.headers.get("Host", "")
    if is_well_formed_host(host):
        return f"{request.scheme}://{host}"
    return PLACEHOLDER


def is_well_formed_host(value: str) -> bool:
    """True for `name`, `name:port`, `1.2.3.4[:port]` and `[v6][:port]`, ports 1-65535."""
    match = HOST_AND_PORT.fullmatch(value)
    if match is None:
        return False
    port = match["port"]
    if port is not None and not 0 < int(port) < 65536:
        return False
    host = match["host"]
    if host.startswith("["):
        return _is_ip(host[1:-1], version=6)
    if host.replace(".", "").isdigit():
        return _is_ip(host, version=4)
    return HOSTNAME.fullmatch(host) is not None


def _is_ip(text: str, *, version: int) -> bool:
    try:
        return ipaddress.ip_address(text).version == version
    except ValueError:
        return False
