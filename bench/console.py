"""Does the console slow the prediction routes? Single-row throughput with and without it.

    .venv/bin/python bench/console.py [--seconds 5] [--passes 5] [--connections 8]

Starts `skserve api --workers 2` twice on the bench database (BENCH_DATABASE_URL, as
bench/online.py; the Adult model is trained when missing), once with CONSOLE=true and once
with CONSOLE=false, and drives both with the single-row payload of bench/online.py under wrk,
interleaving the servers pass after pass. Prints each pass and the medians; the console is
"free" when the ratio is within the spread of the passes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    check_services,
    interleaved_rps,
    require_wrk,
    start_api,
    wait_ready,
)
from bench.online import prepare, read_payloads, scripts  # noqa: E402


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per pass and server [5]")
    parser.add_argument("--passes", type=int, default=5, help="interleaved passes [5]")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections [8]")
    args = parser.parse_args()
    args.database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    args.redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    return args


def main() -> None:
    """Measure both servers and print the medians and their ratio."""
    args = parse_args()
    wrk = require_wrk()
    check_services(args.database_url, args.redis_url)
    path, script = scripts(read_payloads(args.database_url, prepare(args.database_url)))["single"]
    servers = []
    try:
        for console in ("true", "false"):
            env = {
                "DATABASE_URL": args.database_url,
                "REDIS_URL": args.redis_url,
                "DEFAULT_MODEL": "adult",
                "CONSOLE": console,
                "LOG_LEVEL": "WARNING",
            }
            servers.append(start_api(f"console={console}", workers=2, env=env))
        for server in servers:
            wait_ready(server)
        rps = interleaved_rps(
            wrk,
            servers,
            {server.name: path for server in servers},
            script,
            connections=args.connections,
            seconds=args.seconds,
            passes=args.passes,
        )
    finally:
        for server in servers:
            server.stop()
    with_console, without = (statistics.median(rps[s.name]) for s in servers)
    print(f"single row, {args.connections} clients, median of {args.passes} passes:")
    print(f"  console on  {with_console:8.1f} req/s  passes {rps[servers[0].name]}")
    print(f"  console off {without:8.1f} req/s  passes {rps[servers[1].name]}")
    print(f"  ratio on/off {with_console / without:.3f}")


if __name__ == "__main__":
    main()
