"""gunicorn's sync worker against skserve's threaded ApiWorker, in one run, under wrk.

Starts `skserve api` twice on the bench database (2 workers each; one with
GUNICORN_CMD_ARGS="--worker-class sync", the old configuration), then alternates wrk passes on
single-row payload predictions and predictions by id (8 connections) and prints medians and
the ratio of each to the sync baseline.

    python bench/worker_class.py [--seconds 10] [--passes 3]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    ApiServer,
    Case,
    check_services,
    median_result,
    require_wrk,
    run_interleaved,
    start_api,
    wait_ready,
)
from bench.online import prepare, read_payloads, scripts  # noqa: E402

CONFIGURATIONS = {"sync": "--worker-class sync", "api_worker": ""}
SCENARIOS = ("single", "by_id")


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--seconds", type=float, default=10.0, help="per wrk pass")
    parser.add_argument("--passes", type=int, default=3, help="per configuration and scenario")
    parser.add_argument("--connections", type=int, default=8)
    return parser.parse_args()


def start(args: argparse.Namespace, servers: dict[str, ApiServer]) -> None:
    """One API per configuration (into `servers`, so the caller can always stop them)."""
    for name, gunicorn_args in CONFIGURATIONS.items():
        env = {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "DEFAULT_MODEL": "adult",
            "LOG_LEVEL": "WARNING",
            "GUNICORN_CMD_ARGS": gunicorn_args,
        }
        servers[name] = start_api(name, workers=2, env=env)
    for server in servers.values():
        wait_ready(server)


def main() -> None:
    """Measure, then print one JSON document with medians and ratios."""
    args = parse_args()
    wrk = require_wrk()
    check_services(args.database_url, args.redis_url)
    spec = prepare(args.database_url)
    cases = scripts(read_payloads(args.database_url, spec))
    servers: dict[str, ApiServer] = {}
    try:
        start(args, servers)
        runs = run_interleaved(
            wrk,
            list(servers.values()),
            [Case(scenario, *cases[scenario], args.connections) for scenario in SCENARIOS],
            passes=args.passes,
            seconds=args.seconds,
        )
    finally:
        for server in servers.values():
            server.stop()
    summary = {
        name: {scenario: median_result(runs[(name, scenario)]) for scenario in SCENARIOS}
        for name in CONFIGURATIONS
    }
    for scenario in SCENARIOS:
        base = summary["sync"][scenario]["rps"]
        summary["api_worker"][scenario]["ratio_to_sync"] = round(
            summary["api_worker"][scenario]["rps"] / base, 3
        )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
