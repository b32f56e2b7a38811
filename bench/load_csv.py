"""Time `load_csv` on a 1,000,000-row Adult-shaped CSV into PostgreSQL.

    .venv/bin/python bench/load_csv.py [--rows 1000000] [--gzip] [--id-column id]
        [--database-url postgresql+psycopg2://postgres@127.0.0.1:5432/skserve_test]

Rows are sampled with replacement from db/data/adult.csv.gz; the table is dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from db.csv_loader import load_csv  # noqa: E402
from db.demo import DEMO_CSV  # noqa: E402
from db.engine import make_engine  # noqa: E402

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/skserve_test"
TABLE = "bench_load_csv"


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--gzip", action="store_true", help="write and load a .csv.gz")
    parser.add_argument("--id-column", default=None, help="e.g. id: generate 1..N ids")
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_URL))
    return parser.parse_args()


def write_csv(folder: Path, rows: int, gzipped: bool) -> Path:
    """Write `rows` Adult rows sampled with replacement; return the file's path."""
    adult = pd.read_csv(DEMO_CSV, dtype=str, keep_default_na=False)
    sample = adult.sample(n=rows, replace=True, random_state=0)
    path = folder / ("adult_bench.csv.gz" if gzipped else "adult_bench.csv")
    sample.to_csv(path, index=False)
    return path


def main() -> None:
    """Generate the CSV, time the load, print rows, seconds and rows/s."""
    args = parse_args()
    engine = make_engine(args.database_url)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        path = write_csv(Path(folder), args.rows, args.gzip)
        size_mb = path.stat().st_size / 1e6
        print(
            f"wrote {args.rows:,} rows ({size_mb:.0f} MB) in {time.perf_counter() - started:.1f} s"
        )
        started = time.perf_counter()
        loaded = load_csv(engine, path, TABLE, id_column=args.id_column, replace=True)
        seconds = time.perf_counter() - started
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP TABLE {TABLE}"))
    engine.dispose()
    print(f"rows={loaded} seconds={seconds:.2f} rows_per_second={loaded / seconds:,.0f}")


if __name__ == "__main__":
    main()
