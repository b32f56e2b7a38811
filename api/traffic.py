"""Which version answers a request: production, or the canary for its share of routing keys.

A request that names a version (`?version=`, `/versions/<v>/` in the path) is answered by that
version alone. Otherwise the canary answers `percent` % of requests: sticky by the
`X-Routing-Key` header, else by the first entity id, so the same key always meets the same
version (crc32 of model name and key, stable across processes and restarts); a request with
neither is assigned at random. Shadow versions predict every routed request off the request
path, and production shadows the canary's requests so the two can be compared.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Any

from flask import request

from db.model_store import ModelStore
from inference.model import LoadedModel

ROUTING_HEADER = "X-Routing-Key"
BUCKETS = 10_000  # percent is honoured to 0.01


@dataclass(frozen=True)
class Route:
    """The model answering a request, its role in the prediction log, and its shadows."""

    model: LoadedModel
    role: str
    shadows: tuple[LoadedModel, ...] = ()


def route_request(store: ModelStore, model: LoadedModel, ids: list[Any] | None) -> Route:
    """Route a request resolved to `model`: pinned versions answer themselves."""
    if version_pinned():
        return Route(model, "pinned")
    traffic = store.traffic(model.name)
    if traffic is None:
        return Route(model, "production")
    if traffic.canary is not None and in_canary(model.name, routing_key(ids), traffic.percent):
        return Route(traffic.canary, "canary", (*traffic.shadows, model))
    return Route(model, "production", traffic.shadows)


def version_pinned() -> bool:
    """True when the request names the version that must answer it."""
    if request.args.get("version") is not None:
        return True
    return (request.view_args or {}).get("version") is not None


def routing_key(ids: list[Any] | None) -> str | None:
    """The X-Routing-Key header, else the first entity id, else None (random assignment)."""
    key = request.headers.get(ROUTING_HEADER)
    if key:
        return key
    return str(ids[0]) if ids else None


def in_canary(name: str, key: str | None, percent: float) -> bool:
    """Whether a request with this routing key falls in the canary's share."""
    if percent <= 0:
        return False
    if key is None:
        bucket = random.randrange(BUCKETS)
    else:
        bucket = zlib.crc32(f"{name}\0{key}".encode("utf-8", "surrogatepass")) % BUCKETS
    return bucket < percent * BUCKETS / 100
