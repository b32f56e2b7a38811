"""API fixtures: an app on the test database serving the tiny Adult model, and references."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from api.app import create_app
from db import registry
from inference.artifact import unpickle_pipeline
from settings import Settings

FEATURE_ROWS = 40  # ids 1..40 of adult_features


@pytest.fixture(scope="session")
def api_settings(pg_url: str, adult_model) -> Settings:
    """Settings for an API on the test database whose default model is the Adult model."""
    return Settings(
        database_url=pg_url,
        default_model=adult_model.name,
        max_rows_per_request=50,
        max_body_bytes=200_000,
    )


@pytest.fixture(scope="session")
def app(api_settings: Settings) -> Iterator[Flask]:
    """One app for the session (loading the model once)."""
    with serving_app(api_settings) as app:
        yield app


@contextlib.contextmanager
def serving_app(settings: Settings) -> Iterator[Flask]:
    """An app on `settings` with no watcher thread, closed afterwards."""
    app = create_app({"SETTINGS": settings, "START_WATCHER": False, "TESTING": True})
    try:
        yield app
    finally:
        app.extensions["skserve"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A Flask test client."""
    return app.test_client()


@pytest.fixture(scope="session")
def reference_pipelines(pg_engine: Engine):
    """Loads a registered version's pipeline straight from the registry (cached per version)."""
    cache: dict[tuple[str, int], object] = {}

    def load(name: str, version: int):
        if (name, version) not in cache:
            with Session(pg_engine) as session:
                data = registry.get_artifact(session, name=name, version=version)
            cache[(name, version)] = unpickle_pipeline(data)
        return cache[(name, version)]

    return load


@pytest.fixture(scope="session")
def feature_rows(demo_tables: Engine, adult_model) -> pd.DataFrame:
    """The first stored entities: id plus the model's features, as the database holds them."""
    with demo_tables.connect() as connection:
        frame = pd.read_sql(
            sa.text("SELECT * FROM adult_features WHERE id <= :n ORDER BY id"),
            connection,
            params={"n": FEATURE_ROWS},
        )
    return frame
