"""Training specs: TOML files naming the data, the features and the estimator."""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sklearn.base import BaseEstimator

FILTER_OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in")
ALLOWED_ESTIMATOR_PACKAGES = ("sklearn.",)


class SpecError(ValueError):
    """A training spec that cannot be used; the message names the problem."""


@dataclass(frozen=True)
class TrainingSpec:
    """What to train: source rows, target, features, estimator, split, id lookups."""

    name: str
    table: str
    target: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    estimator: str
    params: dict[str, Any] = field(default_factory=dict)
    filters: tuple[tuple[str, str, Any], ...] = ()
    holdout: float = 0.2
    seed: int = 42
    feature_table: str | None = None
    id_column: str = "id"
    positive_label: str | None = None
    primary_metric: str | None = None

    @property
    def features(self) -> list[str]:
        """All input features, numeric first."""
        return [*self.numeric, *self.categorical]

    @property
    def source_columns(self) -> list[str]:
        """Columns read from the training table."""
        return [*self.features, self.target]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored with every version trained from it."""
        data = asdict(self)
        data["filters"] = [list(f) for f in self.filters]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingSpec:
        """Inverse of to_dict (the stored spec of a model)."""
        values = dict(data)
        values["numeric"] = tuple(values.get("numeric", ()))
        values["categorical"] = tuple(values.get("categorical", ()))
        values["filters"] = tuple(tuple(f) for f in values.get("filters", ()))
        return cls(**values)


def _require(section: dict[str, Any], key: str, where: str) -> Any:
    if key not in section:
        raise SpecError(f"spec is missing `{key}` in [{where}]")
    return section[key]


def parse_spec(data: dict[str, Any]) -> TrainingSpec:
    """Build a spec from parsed TOML, checking its shape (not yet the database)."""
    source = data.get("source", {})
    features = data.get("features", {})
    estimator = data.get("estimator", {})
    split = data.get("split", {})
    entities = data.get("entities", {})
    filters = []
    for item in source.get("filter", []):
        if not (isinstance(item, list) and len(item) == 3 and item[1] in FILTER_OPERATORS):
            raise SpecError(
                f"filter {item!r} must be [column, operator, value] with operator one of "
                + ", ".join(FILTER_OPERATORS)
            )
        filters.append(tuple(item))
    holdout = float(split.get("holdout", 0.2))
    if not 0.0 < holdout < 1.0:
        raise SpecError(f"[split] holdout must be between 0 and 1, got {holdout}")
    spec = TrainingSpec(
        name=_require(data, "name", "top level"),
        table=_require(source, "table", "source"),
        target=_require(source, "target", "source"),
        numeric=tuple(features.get("numeric", ())),
        categorical=tuple(features.get("categorical", ())),
        estimator=_require(estimator, "class", "estimator"),
        params=dict(estimator.get("params", {})),
        filters=tuple(filters),
        holdout=holdout,
        seed=int(split.get("seed", 42)),
        feature_table=entities.get("table"),
        id_column=entities.get("id_column", "id"),
        positive_label=source.get("positive_label"),
        primary_metric=data.get("primary_metric"),
    )
    if not spec.features:
        raise SpecError("spec names no features: set [features] numeric and/or categorical")
    if spec.target in spec.features:
        raise SpecError(f"target `{spec.target}` is also listed as a feature")
    return spec


def load_spec(path: str | Path) -> TrainingSpec:
    """Read and parse a TOML spec file."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise SpecError(f"spec file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"spec file {path} is not valid TOML: {exc}") from None
    return parse_spec(data)


def make_estimator(spec: TrainingSpec) -> BaseEstimator:
    """Import the estimator class named by the spec and construct it with its parameters."""
    module_name, _, class_name = spec.estimator.rpartition(".")
    if not spec.estimator.startswith(ALLOWED_ESTIMATOR_PACKAGES) or not module_name:
        raise SpecError(
            f"estimator `{spec.estimator}` must be a scikit-learn class path such as "
            "sklearn.ensemble.GradientBoostingClassifier"
        )
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise SpecError(f"unknown estimator `{spec.estimator}`") from None
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator) and hasattr(cls, "fit")):
        raise SpecError(f"`{spec.estimator}` is not a scikit-learn estimator")
    try:
        return cls(**spec.params)
    except TypeError as exc:
        raise SpecError(f"bad parameters for {class_name}: {exc}") from None
