"""What canary and shadow routing cost: single-row throughput before and after, and with both on.

    git worktree add --detach /tmp/skserve-before <commit before canary/shadow routing>
    .venv/bin/python bench/traffic.py --baseline /tmp/skserve-before [--seconds 5] [--passes 3]

On the bench database (BENCH_DATABASE_URL, as bench/online.py; the Adult model is trained when
missing) starts three `skserve api --workers 2` side by side and drives each with the
single-row payload of bench/online.py under wrk at 8 connections, interleaving the servers
pass after pass:

- `before`: the baseline checkout's code (this environment's libraries), model `adult`;
- `after`: this tree, model `adult`, no canary or shadow;
- `canary+shadow`: this tree, model `adult_traffic` (copies of adult's production version as
  v1, v2, v3) with a 10 % canary (v2) and one shadow version (v3).

Prints each pass, the medians, the ratios after/before (target within 5 %) and
canary+shadow/after (target: at most 15 % lower), and the shadow queues' drop count from
/metrics (summed over the workers).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import urllib.request
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    check_services,
    interleaved_rps,
    lua_post,
    require_wrk,
    start_api,
    wait_ready,
)
from bench.online import prepare, read_payloads  # noqa: E402

TRAFFIC_MODEL = "adult_traffic"


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="checkout to compare with")
    parser.add_argument("--seconds", type=float, default=5.0, help="per pass and server [5]")
    parser.add_argument("--passes", type=int, default=3, help="interleaved passes [3]")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections [8]")
    args = parser.parse_args()
    args.database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    args.redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    return args


def copy_adult(database_url: str) -> None:
    """`adult_traffic` v1-v3: adult's production version thrice, v1 in production, v2 the
    canary at 10 %, v3 a shadow (same cost per prediction as a real new version)."""
    from db import registry
    from db.tables import model_versions
    from db.traffic import Traffic, set_traffic

    engine = sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(model_versions.delete().where(model_versions.c.name == TRAFFIC_MODEL))
        row = conn.execute(
            sa.select(model_versions).where(
                model_versions.c.name == "adult", model_versions.c.is_production
            )
        ).one()
        for version in (1, 2, 3):
            values = {**row._mapping, "name": TRAFFIC_MODEL, "version": version}
            values.pop("id")
            values["is_production"] = version == 1
            conn.execute(model_versions.insert().values(**values))
    with sa.orm.Session(engine) as session, session.begin():
        set_traffic(session, name=TRAFFIC_MODEL, wanted=Traffic(1, 2, 10.0, (3,)))
        assert registry.production_versions(session)[TRAFFIC_MODEL] == 1
    engine.dispose()


def shadow_counters(url: str) -> dict[str, float]:
    """skserve_shadow_* samples for the traffic model from /metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    found = {}
    for name in ("dropped", "predictions", "errors"):
        pattern = rf'^skserve_shadow_{name}_total{{[^}}]*model="{TRAFFIC_MODEL}"[^}}]*}} (\S+)$'
        found[name] = sum(float(v) for v in re.findall(pattern, text, re.MULTILINE))
    return found


def main() -> None:
    """Start the three servers, measure them interleaved, print medians and ratios."""
    args = parse_args()
    wrk = require_wrk()
    check_services(args.database_url, args.redis_url)
    record = read_payloads(args.database_url, prepare(args.database_url))["record"]
    copy_adult(args.database_url)
    script = lua_post(json.dumps(record))
    env = {
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "DEFAULT_MODEL": "adult",
        "LOG_LEVEL": "WARNING",
    }
    plan = [
        ("before", "adult", args.baseline.resolve()),
        ("after", "adult", None),
        ("canary+shadow", TRAFFIC_MODEL, None),
    ]
    servers = []
    try:
        for name, _, source in plan:
            servers.append(start_api(name, workers=2, env=env, source=source))
        for server in servers:
            wait_ready(server)
        paths = {name: f"/models/{model}/predict" for name, model, _ in plan}
        rps = interleaved_rps(
            wrk,
            servers,
            paths,
            script,
            connections=args.connections,
            seconds=args.seconds,
            passes=args.passes,
        )
        counters = shadow_counters(servers[2].url)
    finally:
        for server in servers:
            server.stop()
    before, after, routed = (statistics.median(rps[s.name]) for s in servers)
    print(f"single row, {args.connections} clients, median of {args.passes} passes:")
    for server, median in zip(servers, (before, after, routed), strict=True):
        print(f"  {server.name:14} {median:8.1f} req/s  passes {rps[server.name]}")
    print(f"  after / before          {after / before:.3f}  (target 0.95-1.05)")
    print(f"  canary+shadow / after   {routed / after:.3f}  (target >= 0.85)")
    print(
        f"  shadow: {counters['predictions']:.0f} rows predicted, "
        f"{counters['dropped']:.0f} requests dropped (queue full), {counters['errors']:.0f} errors"
    )


if __name__ == "__main__":
    main()
