"""Canary and shadow versions beside the production one (table `model_traffic`).

The production version stays `model_versions.is_production`; a model without a traffic row is
served by production alone. Setting traffic changes both in one transaction, under the
registry's per-model lock, so a process never sees a canary beside the wrong production.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import registry
from db.tables import model_traffic


class InvalidTrafficError(ValueError):
    """A traffic setting that cannot be served; `field` names the part that is wrong."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Traffic:
    """Who answers a model's requests: production, an optional canary share, shadow versions."""

    production: int | None
    canary_version: int | None = None
    canary_percent: float = 0.0
    shadow: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of GET and PUT /models/<name>/traffic."""
        canary = None
        if self.canary_version is not None:
            canary = {"version": self.canary_version, "percent": self.canary_percent}
        return {"production": self.production, "canary": canary, "shadow": list(self.shadow)}

    def with_production(self, production: int | None) -> Traffic:
        """This setting with `production` as the production version."""
        return replace(self, production=production)

    def versions(self) -> set[int]:
        """Every version this setting routes to or shadows (production included)."""
        named = {self.production, self.canary_version, *self.shadow}
        return {version for version in named if version is not None}


def read_traffic(session: Session, *, name: str) -> Traffic:
    """The model's traffic setting; ModelNotFoundError for an unknown model."""
    if not registry.model_exists(session, name=name):
        raise registry.ModelNotFoundError(name)
    production = registry.production_versions(session).get(name)
    return configured_traffic(session).get(name, Traffic(production)).with_production(production)


def configured_traffic(session: Session) -> dict[str, Traffic]:
    """{model name: Traffic} for every model with a canary or shadow (production left unset)."""
    rows = session.execute(
        sa.select(
            model_traffic.c.model_name,
            model_traffic.c.canary_version,
            model_traffic.c.canary_percent,
            model_traffic.c.shadow_versions,
        )
    )
    return {
        name: Traffic(None, canary, percent or 0.0, tuple(shadow or ()))
        for name, canary, percent, shadow in rows
    }


def set_traffic(session: Session, *, name: str, wanted: Traffic) -> Traffic:
    """Store `wanted` (production None keeps the current one), promoting in the same transaction.

    Raises InvalidTrafficError for a setting that cannot be served and the registry's errors for
    unknown models or versions.
    """
    registry.lock_model(session, name=name)
    current = registry.production_versions(session).get(name)
    if not registry.model_exists(session, name=name):
        raise registry.ModelNotFoundError(name)
    wanted = wanted.with_production(wanted.production or current)
    check_traffic(session, name=name, traffic=wanted)
    if wanted.production != current:
        registry.promote(session, name=name, version=wanted.production)
    session.execute(model_traffic.delete().where(model_traffic.c.model_name == name))
    if wanted.canary_version is not None or wanted.shadow:
        session.execute(
            model_traffic.insert().values(
                model_name=name,
                canary_version=wanted.canary_version,
                canary_percent=wanted.canary_percent if wanted.canary_version else None,
                shadow_versions=list(wanted.shadow),
                updated_at=datetime.now(UTC),
            )
        )
    return read_traffic(session, name=name)


def check_traffic(session: Session, *, name: str, traffic: Traffic) -> None:
    """Raise InvalidTrafficError unless every role names a distinct version taking the same
    features as production (a canary must answer any request production answers)."""
    if traffic.production is None:
        raise InvalidTrafficError(
            f"model '{name}' has no production version; set one with \"production\"",
            "production",
        )
    if traffic.canary_version is not None and traffic.canary_version == traffic.production:
        raise InvalidTrafficError(
            f"the canary v{traffic.canary_version} is the production version", "canary"
        )
    if len(set(traffic.shadow)) != len(traffic.shadow):
        raise InvalidTrafficError("shadow lists a version twice", "shadow")
    for version in traffic.shadow:
        if version in (traffic.production, traffic.canary_version):
            role = "production" if version == traffic.production else "canary"
            raise InvalidTrafficError(
                f"shadow v{version} is also the {role} version; a version has one role", "shadow"
            )
    if not 0 <= traffic.canary_percent <= 100:
        raise InvalidTrafficError("canary percent must be between 0 and 100", "canary.percent")
    features = _feature_names(session, name, traffic.production)
    for version in traffic.versions() - {traffic.production}:
        if _feature_names(session, name, version) != features:
            raise InvalidTrafficError(
                f"v{version} takes other features than production v{traffic.production}, so "
                "it cannot answer the same requests",
                "canary" if version == traffic.canary_version else "shadow",
            )


def _feature_names(session: Session, name: str, version: int) -> set[str]:
    record = registry.get_version(session, name=name, version=version)
    return {feature["name"] for feature in record.schema.get("features", [])}
