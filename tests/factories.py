"""Plain factory functions shared by the tests."""

from __future__ import annotations

from dataclasses import replace

from trainer.spec import TrainingSpec


def small_adult_spec(
    adult_spec: TrainingSpec, name: str, n_estimators: int = 3, max_fnlwgt: int = 60_000
) -> TrainingSpec:
    """The Adult spec under another model name, with few trees and fewer rows: quick to train."""
    return replace(
        adult_spec,
        name=name,
        params={**adult_spec.params, "n_estimators": n_estimators},
        filters=(("fnlwgt", "<", max_fnlwgt),),
    )
