"""The feature schema: what a model expects, inferred from its training frame."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

FeatureKind = Literal["numeric", "categorical"]
UnknownPolicy = Literal["ignore", "error"]


@dataclass(frozen=True)
class Feature:
    """One input column: its kind, what training saw, and how unknown categories are handled."""

    name: str
    kind: FeatureKind
    dtype: str
    nullable: bool = False
    categories: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    unknown: UnknownPolicy = "ignore"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with the model, shown by the API)."""
        data = asdict(self)
        data["categories"] = list(self.categories) if self.categories is not None else None
        data["required"] = True
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Feature:
        """Inverse of to_dict."""
        categories = data.get("categories")
        return cls(
            name=data["name"],
            kind=data["kind"],
            dtype=data.get("dtype", "float" if data["kind"] == "numeric" else "string"),
            nullable=bool(data.get("nullable", False)),
            categories=tuple(categories) if categories is not None else None,
            minimum=data.get("minimum"),
            maximum=data.get("maximum"),
            unknown=data.get("unknown", "ignore"),
        )


@dataclass(frozen=True)
class FeatureSchema:
    """The ordered input features of a model."""

    features: tuple[Feature, ...]
    by_name: dict[str, Feature] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.features})

    @property
    def names(self) -> list[str]:
        """Feature names in model order."""
        return [f.name for f in self.features]

    def with_unknown_policy(self, policies: dict[str, UnknownPolicy]) -> FeatureSchema:
        """A copy whose categorical features carry the given unknown-category policies."""
        return FeatureSchema(
            tuple(
                Feature(**{**asdict(f), "unknown": policies.get(f.name, f.unknown)})
                for f in self.features
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"features": [f.to_dict() for f in self.features]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSchema:
        """Inverse of to_dict."""
        return cls(tuple(Feature.from_dict(f) for f in data["features"]))


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def infer_feature(name: str, series: pd.Series) -> Feature:
    """Describe one training column."""
    nullable = bool(series.isna().any())
    if _is_numeric(series):
        values = series.dropna()
        dtype = "integer" if pd.api.types.is_integer_dtype(series) else "float"
        return Feature(
            name=name,
            kind="numeric",
            dtype=dtype,
            nullable=nullable,
            minimum=float(values.min()) if len(values) else None,
            maximum=float(values.max()) if len(values) else None,
        )
    categories = tuple(sorted(str(v) for v in series.dropna().unique()))
    return Feature(
        name=name, kind="categorical", dtype="string", nullable=nullable, categories=categories
    )


def infer_schema(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> FeatureSchema:
    """Infer the schema of `columns` (default: all) of a training frame."""
    names = list(columns) if columns is not None else list(frame.columns)
    return FeatureSchema(tuple(infer_feature(name, frame[name]) for name in names))


def schema_from_names(numeric: Iterable[str], categorical: Iterable[str]) -> FeatureSchema:
    """A schema known only by feature names (pipelines registered without training data)."""
    features = [Feature(n, "numeric", "float", nullable=True) for n in numeric]
    features += [Feature(n, "categorical", "string", nullable=True) for n in categorical]
    return FeatureSchema(tuple(features))
