"""Read what a fitted pipeline expects: its input features, steps and estimator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelBinarizer, OneHotEncoder, OrdinalEncoder

from inference.compat import DataFrameMapper

CATEGORICAL_ENCODERS = (OneHotEncoder, OrdinalEncoder, LabelBinarizer)


@dataclass(frozen=True)
class InputFeature:
    """One column a pipeline reads, as far as its fitted transformers tell."""

    name: str
    kind: str  # "numeric" or "categorical"
    categories: tuple[str, ...] | None = None
    unknown: str = "error"  # whether unknown categories are ignored or raise


def _flatten(transformer: Any) -> Iterator[Any]:
    if transformer is None or isinstance(transformer, str):
        return
    if isinstance(transformer, list | tuple):
        for item in transformer:
            yield from _flatten(item)
    elif isinstance(transformer, Pipeline):
        for _, step in transformer.steps:
            yield from _flatten(step)
    else:
        yield transformer


def _unknown_policy(encoder: Any) -> str:
    if isinstance(encoder, LabelBinarizer):
        return "ignore"  # unseen labels binarise to all zeros
    if isinstance(encoder, OneHotEncoder):
        return "ignore" if encoder.handle_unknown != "error" else "error"
    if isinstance(encoder, OrdinalEncoder):
        return "ignore" if encoder.handle_unknown == "use_encoded_value" else "error"
    return "error"


def _describe(columns: list[str], transformer: Any) -> list[InputFeature]:
    encoders = [t for t in _flatten(transformer) if isinstance(t, CATEGORICAL_ENCODERS)]
    if not encoders:
        return [InputFeature(name, "numeric") for name in columns]
    encoder = encoders[0]
    fitted = getattr(encoder, "categories_", None)
    if fitted is None and hasattr(encoder, "classes_"):
        fitted = [encoder.classes_]
    features = []
    for i, name in enumerate(columns):
        categories = tuple(str(c) for c in fitted[i] if c == c) if fitted is not None else None
        features.append(InputFeature(name, "categorical", categories, _unknown_policy(encoder)))
    return features


def _columns(selector: Any) -> list[str]:
    if isinstance(selector, str):
        return [selector]
    return [str(c) for c in selector]


def input_features(pipeline: Any) -> list[InputFeature] | None:
    """The columns the pipeline reads, or None when they cannot be determined."""
    first = pipeline.steps[0][1] if isinstance(pipeline, Pipeline) else pipeline
    found: dict[str, InputFeature] = {}
    if isinstance(first, DataFrameMapper):
        for entry in first.features:
            for feature in _describe(_columns(entry[0]), entry[1]):
                found.setdefault(feature.name, feature)
    elif isinstance(first, ColumnTransformer) and hasattr(first, "transformers_"):
        names_in = list(getattr(first, "feature_names_in_", []))
        for _, transformer, selector in first.transformers_:
            if transformer == "drop":
                continue
            columns = [names_in[i] for i in selector] if _is_positional(selector) else selector
            for feature in _describe(_columns(columns), transformer):
                found.setdefault(feature.name, feature)
        for name in names_in:
            found.setdefault(name, InputFeature(name, "numeric"))
    elif hasattr(pipeline, "feature_names_in_"):
        return [InputFeature(str(name), "numeric") for name in pipeline.feature_names_in_]
    return list(found.values()) or None


def _is_positional(selector: Any) -> bool:
    return len(selector) > 0 and all(isinstance(i, int) for i in selector)


def pipeline_steps(pipeline: Any) -> list[dict[str, str]]:
    """[{name, class}] of the pipeline's steps (one entry for a bare estimator)."""
    steps = pipeline.steps if isinstance(pipeline, Pipeline) else [("estimator", pipeline)]
    return [{"name": name, "class": _class_path(step)} for name, step in steps]


def final_estimator(pipeline: Any) -> Any:
    """The last step (the pipeline itself when it is a bare estimator)."""
    return pipeline.steps[-1][1] if isinstance(pipeline, Pipeline) else pipeline


def _class_path(obj: Any) -> str:
    if isinstance(obj, str) or obj is None:
        return str(obj)
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def estimator_class(pipeline: Any) -> str:
    """Import path of the final estimator's class."""
    return _class_path(final_estimator(pipeline))
