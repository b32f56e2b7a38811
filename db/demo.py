"""The bundled demo data: UCI Adult loaded into `adult_training` and `adult_features`."""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from db.csv_files import Progress
from db.csv_loader import begin, load_csv_into

log = logging.getLogger(__name__)

DEMO_CSV = Path(__file__).resolve().parent / "data" / "adult.csv.gz"
DEMO_ROWS = 32_561
TRAINING_TABLE = "adult_training"
FEATURES_TABLE = "adult_features"
LABEL = "income"
ID_COLUMN = "id"


class DemoDataError(RuntimeError):
    """The demo tables exist but do not hold the demo data."""


def demo_row_counts(bind: Engine | Connection) -> dict[str, int | None]:
    """Rows in each demo table; None for a table that does not exist."""
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return demo_row_counts(connection)
    inspector = sa.inspect(bind)
    return {
        table: _count_rows(bind, table) if inspector.has_table(table) else None
        for table in (TRAINING_TABLE, FEATURES_TABLE)
    }


def demo_data_loaded(bind: Engine | Connection) -> bool:
    """True when both demo tables exist with every demo row."""
    return all(rows == DEMO_ROWS for rows in demo_row_counts(bind).values())


def load_demo_data(
    engine: Engine, *, replace: bool = False, progress: Progress | None = None
) -> dict[str, int]:
    """Load Adult into both demo tables in one transaction; a no-op when already loaded."""
    with begin(engine) as connection:
        counts = demo_row_counts(connection)
        if not replace:
            _refuse_foreign_tables(counts)
        if replace or counts[TRAINING_TABLE] is None:
            load_csv_into(connection, DEMO_CSV, TRAINING_TABLE, replace=True, progress=progress)
        if replace or counts[FEATURES_TABLE] is None:
            _load_features(connection, progress)
        loaded = {table: rows for table, rows in demo_row_counts(connection).items() if rows}
    if loaded == counts:
        log.info("demo data already loaded (%s rows in each table)", f"{DEMO_ROWS:,}")
    return loaded


def _load_features(connection: Connection, progress: Progress | None) -> None:
    """adult_features: ids 1..N in file order and the 14 features, without the label."""
    load_csv_into(
        connection, DEMO_CSV, FEATURES_TABLE, id_column=ID_COLUMN, replace=True, progress=progress
    )
    quote = connection.dialect.identifier_preparer.quote
    connection.execute(sa.text(f"ALTER TABLE {quote(FEATURES_TABLE)} DROP COLUMN {quote(LABEL)}"))


def _count_rows(connection: Connection, table: str) -> int:
    return connection.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar_one()


def _refuse_foreign_tables(counts: dict[str, int | None]) -> None:
    for table, rows in counts.items():
        if rows is not None and rows != DEMO_ROWS:
            raise DemoDataError(
                f"table {table!r} exists with {rows:,} rows, not the {DEMO_ROWS:,} demo rows"
            )
