"""The protocol rows of bench/online.py: V2 infer and MLflow /invocations against the native
route, on the same fast-path API in the same run (servers interleaved, medians of passes).

Targets (issue 15): at 8 clients, single-row requests within 10 % of the native route's
throughput and 100-row requests within 15 %.
"""

from __future__ import annotations

import json
from typing import Any

from bench.harness import Case, Server, lua_post, median_result, run_interleaved

CONNECTIONS = 8
ROUTES = (
    ("native", "/models/adult/predict"),
    ("v2", "/v2/models/adult/infer"),
    ("mlflow", "/invocations"),
)
TARGETS = {1: 0.90, 100: 0.85}  # protocol throughput / native throughput


def v2_body(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One tensor per feature: FP64 for numbers, BYTES for strings (nulls kept)."""
    inputs = []
    for name in records[0]:
        values = [record[name] for record in records]
        text = any(isinstance(v, str) for v in values)
        datatype = "BYTES" if text else "FP64"
        inputs.append({"name": name, "shape": [len(values)], "datatype": datatype, "data": values})
    return {"inputs": inputs}


def bodies(payloads: dict) -> dict[tuple[str, int], str]:
    """(route, rows) -> JSON body; the native route gets the records it is usually sent."""
    out = {}
    for rows, records in ((1, [payloads["record"]]), (100, payloads["records"])):
        native = records[0] if rows == 1 else records
        out[("native", rows)] = json.dumps(native, default=str)
        out[("v2", rows)] = json.dumps(v2_body(records), default=str)
        out[("mlflow", rows)] = json.dumps({"dataframe_records": records}, default=str)
    return out


def run_protocols(wrk: str, server: Server, payloads: dict, *, seconds: float, passes: int):
    """Median req/s per (route, rows) at 8 clients, routes interleaved within each pass."""
    plan = bodies(payloads)
    cases = [
        Case(f"{route} {rows} row(s)", path, lua_post(plan[(route, rows)]), CONNECTIONS)
        for rows in TARGETS
        for route, path in ROUTES
    ]
    runs = run_interleaved(wrk, [server], cases, passes=passes, seconds=seconds)
    return {
        (route, rows): median_result(runs[(server.name, f"{route} {rows} row(s)")])
        for rows in TARGETS
        for route, _ in ROUTES
    }


def render_protocols(cells: dict) -> str:
    """Markdown rows: each protocol's req/s and its ratio to the native route, with targets."""
    lines = [
        "| route, 8 clients | rows | req/s | rows/s | p50 ms | non-2xx | / native | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rows, target in TARGETS.items():
        native = cells[("native", rows)]["rps"]
        for route, path in ROUTES:
            cell = cells[(route, rows)]
            ratio = cell["rps"] / max(native, 1e-9)
            mark = (
                ""
                if route == "native"
                else (f">= {target:.2f}: **{'met' if ratio >= target else 'missed'}**")
            )
            lines.append(
                f"| `{path}` | {rows} | {cell['rps']:,.0f} | {cell['rps'] * rows:,.0f} "
                f"| {cell['p50_ms']:.2f} | {cell['non2xx'] + cell['socket_errors']} "
                f"| {ratio:.2f} | {mark} |"
            )
    return "\n".join(lines)
