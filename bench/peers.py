"""skserve beside Seldon MLServer and a plain Flask + gunicorn app, the same pickle in all three.

    python bench/peers.py [--seconds 8] [--passes 3] [--workers 2]

What a user brings: the Adult data as a `ColumnTransformer(StandardScaler, OneHotEncoder(
handle_unknown="ignore"))` + `GradientBoostingClassifier` pipeline, cloudpickled. This script
fits it once on the bench database's Adult table (BENCH_DATABASE_URL, prepared as bench/online.py
does), builds once the peers' virtual environments (cached under bench/.peers/, keyed by their
pins), registers the pickle in skserve with `skserve models register` (no sample rows), starts
the three servers on loopback with the same number of worker processes, checks that all three
return the same predictions and probabilities for 100 real rows, then drives them with wrk,
interleaved, pass after pass: 1 row at 1 client, 1 row at 8 clients, 100 rows at 8 clients.
Prints one markdown table of medians with skserve's ratio to each peer; progress on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    ROOT,
    Case,
    Server,
    check_services,
    free_port,
    lua_post,
    median_result,
    parse_bench_args,
    require_wrk,
    run_interleaved,
    skserve_command,
    start_api,
    start_server,
    wait_ready,
    wrk_version,
)
from bench.online import delete_logged_predictions, log, prepare, read_payloads  # noqa: E402
from bench.protocols import v2_body  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".peers"
MODEL_NAME = "peers_ct_gbc"
MLSERVER_MODEL = "adult"
# The peers' pins. scikit-learn, pandas, numpy and cloudpickle are this environment's own, so the
# pickle unpickles to the same pipeline everywhere.
SHARED_PINS = [
    f"{name}=={version}"
    for name, version in (
        ("scikit-learn", __import__("sklearn").__version__),
        ("pandas", pd.__version__),
        ("numpy", np.__version__),
        ("cloudpickle", cloudpickle.__version__),
    )
]
# MLServer 1.7.1's workers die at start with uvloop 0.22 or newer.
PEERS = {
    "mlserver": ["mlserver==1.7.1", "mlserver-sklearn==1.7.1", "uvloop<0.22"],
    "flask": ["flask==3.1.3", "gunicorn==27.0.1"],
}
CELLS = (("1 row, 1 client", 1, 1), ("1 row, 8 clients", 1, 8), ("100 rows, 8 clients", 100, 8))


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per wrk pass [8]")
    parser.add_argument("--passes", type=int, default=3, help="interleaved passes [3]")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per server [2]")
    args = parse_bench_args(parser)
    return args


def peer_venv(name: str) -> Path:
    """The peer's virtual environment, built on first use and reused while its pins hold."""
    pins = [*PEERS[name], *SHARED_PINS]
    key = hashlib.sha256(json.dumps([sys.version_info[:2], pins]).encode()).hexdigest()[:12]
    venv = CACHE / f"{name}-{key}"
    if (venv / ".complete").exists():
        return venv
    log(f"building the {name} environment in {venv} (once): {' '.join(pins)}")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *pins],
        check=True,
        stdout=sys.stderr,
    )
    (venv / ".complete").write_text("\n".join(pins) + "\n")
    return venv


def fitted_pickle(database_url: str, spec: Any) -> Path:
    """The user's pipeline fitted on the Adult training table, cloudpickled (cached: the same
    bytes, hence the same registered version, run after run)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    path = CACHE / f"adult-ct-gbc-{SHARED_PINS[0].split('==')[1]}.pkl"
    if path.exists():
        return path
    log(f"fitting the ColumnTransformer + GradientBoostingClassifier pipeline into {path}")
    engine = sa.create_engine(database_url)
    columns = [*spec.numeric, *spec.categorical, spec.target]
    table = sa.table(spec.table, *(sa.column(c) for c in columns))
    with engine.connect() as connection:
        frame = pd.read_sql(sa.select(table), connection)
    engine.dispose()
    preprocess = ColumnTransformer(
        [
            ("num", StandardScaler(), list(spec.numeric)),
            ("cat", OneHotEncoder(handle_unknown="ignore"), list(spec.categorical)),
        ]
    )
    pipeline = make_pipeline(
        preprocess, GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0)
    )
    pipeline.fit(frame[[*spec.numeric, *spec.categorical]], frame[spec.target])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cloudpickle.dumps(pipeline))
    return path


def register(database_url: str, pickle_path: Path) -> None:
    """`skserve models register --promote`, unless this very pickle is already registered."""
    from db.engine import make_engine, make_session_factory
    from db.registry import find_by_sha256, production_versions
    from inference.artifact import sha256_of

    engine = make_engine(database_url)
    with make_session_factory(engine)() as session:
        found = find_by_sha256(session, name=MODEL_NAME, sha256=sha256_of(pickle_path.read_bytes()))
        production = production_versions(session).get(MODEL_NAME)
    engine.dispose()
    if found is not None and production == found.version:
        return
    subprocess.run(
        [*skserve_command(), "models", "register", MODEL_NAME, str(pickle_path), "--promote"],
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        stdout=sys.stderr,
    )


def start_mlserver(venv: Path, pickle_path: Path, workers: int) -> Server:
    """`mlserver start` on a folder holding its settings and the model's."""
    port = free_port()
    folder = CACHE / "mlserver-models"
    (folder / MLSERVER_MODEL).mkdir(parents=True, exist_ok=True)
    settings = {
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": workers,
        "host": "127.0.0.1",
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model_settings = {
        "name": MLSERVER_MODEL,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(pickle_path)},
    }
    (folder / MLSERVER_MODEL / "model-settings.json").write_text(json.dumps(model_settings))
    return start_server(
        "MLServer", [str(venv / "bin" / "mlserver"), "start", str(folder)], env={}, port=port
    )


def start_flask(venv: Path, pickle_path: Path, workers: int) -> Server:
    """The seed-style app under gunicorn's default (sync) workers."""
    port = free_port()
    command = [
        str(venv / "bin" / "gunicorn"),
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "bench.peer_flask_app:app",
    ]
    return start_server(
        "Flask app", command, env={"PEER_PICKLE": str(pickle_path)}, cwd=ROOT, port=port
    )


def mlserver_body(records: list[dict[str, Any]]) -> dict[str, Any]:
    """A V2 inference request MLServer decodes into a DataFrame (its pandas codec, strings as
    str), asking for both the labels and the probabilities, as skserve and the Flask app
    answer."""
    body = v2_body(records)
    for tensor in body["inputs"]:
        if tensor["datatype"] == "BYTES":
            tensor["parameters"] = {"content_type": "str"}
    return {
        **body,
        "parameters": {"content_type": "pd"},
        "outputs": [{"name": "predict"}, {"name": "predict_proba"}],
    }


def post(url: str, body: Any) -> Any:
    """POST JSON, return the parsed answer."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"POST {url}: {exc.code} {exc.read()[:2000]!r}") from None


def answers(urls: dict[str, str], records: list[dict[str, Any]]) -> dict[str, tuple]:
    """Each server's (labels, probabilities of the positive class) for `records`."""
    skserve = post(urls["skserve"], records)
    classes = list(skserve["probabilities"][0])
    flask = post(urls["Flask app"], records)
    mlserver = {o["name"]: o for o in post(urls["MLServer"], mlserver_body(records))["outputs"]}
    proba = np.asarray(mlserver["predict_proba"]["data"]).reshape(len(records), -1)
    return {
        "skserve": (
            skserve["predictions"],
            np.asarray([[row[c] for c in classes] for row in skserve["probabilities"]]),
        ),
        "Flask app": (flask["predictions"], np.asarray(flask["probabilities"])),
        "MLServer": (list(mlserver["predict"]["data"]), proba),
    }


def verify(urls: dict[str, str], records: list[dict[str, Any]]) -> str:
    """Exit unless every server returns the same labels and probabilities as skserve."""
    found = answers(urls, records)
    labels, proba = found["skserve"]
    for name, (other_labels, other_proba) in found.items():
        if other_labels != labels:
            raise SystemExit(f"{name} predicts other labels than skserve for the same rows")
        if not np.array_equal(other_proba, proba):
            gap = float(np.max(np.abs(other_proba - proba)))
            raise SystemExit(f"{name}'s probabilities differ from skserve's by up to {gap:g}")
    return f"{len(records)} rows: labels equal and probabilities bit-identical on all servers"


def cases(paths: dict[str, str], payloads: dict) -> dict[str, list[Case]]:
    """Per server, the three cells' wrk scripts."""
    plan: dict[str, list[Case]] = {}
    for name, path in paths.items():
        plan[name] = []
        for label, rows, connections in CELLS:
            records = payloads["records"][:rows]
            if name == "MLServer":
                body = mlserver_body(records)
            else:
                body = records[0] if rows == 1 else records
            plan[name].append(Case(label, path, lua_post(json.dumps(body)), connections))
    return plan


def main() -> None:
    """Prepare, build, start, verify, measure, print."""
    args = parse_args()
    wrk = require_wrk()
    started = dt.datetime.now(dt.UTC)
    load = os.getloadavg()
    check_services(args.database_url, args.redis_url)
    log(f"bench database {args.database_url}")
    spec = prepare(args.database_url)
    payloads = read_payloads(args.database_url, spec, complete=True)
    pickle_path = fitted_pickle(args.database_url, spec)
    venvs = {name: peer_venv(name) for name in PEERS}
    register(args.database_url, pickle_path)
    paths = {
        "skserve": f"/models/{MODEL_NAME}/predict",
        "MLServer": f"/v2/models/{MLSERVER_MODEL}/infer",
        "Flask app": "/predict",
    }
    servers: list[Server] = []
    try:
        env = {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "DEFAULT_MODEL": MODEL_NAME,
            "LOG_LEVEL": "WARNING",
        }
        servers.append(start_api("skserve", workers=args.workers, env=env))
        servers.append(start_mlserver(venvs["mlserver"], pickle_path, args.workers))
        servers.append(start_flask(venvs["flask"], pickle_path, args.workers))
        ready = {"skserve": "/ready", "MLServer": "/v2/health/ready", "Flask app": "/health"}
        for server in servers:
            wait_ready(server, path=ready[server.name])
            log(f"{server.name} ready on {server.url}")
        with urllib.request.urlopen(f"{servers[0].url}/models/{MODEL_NAME}", timeout=10) as r:
            info = json.loads(r.read())
        log(f"skserve fast_path={info.get('fast_path')}: {info.get('fast_path_reason')}")
        urls = {s.name: s.url + paths[s.name] for s in servers}
        verified = verify(urls, payloads["records"])
        log(verified)
        runs = run_interleaved(
            wrk, servers, cases(paths, payloads), passes=args.passes, seconds=args.seconds
        )
    finally:
        for server in servers:
            server.stop()
    delete_logged_predictions(args.database_url, started)
    medians = {key: median_result(results) for key, results in runs.items()}
    print(render(medians, info, verified, versions(venvs), started, load, args, wrk))


def versions(venvs: dict[str, Path]) -> dict[str, str]:
    """The peers' installed versions, as pip reports them."""
    found = {}
    for name, package in (("mlserver", "mlserver"), ("flask", "flask"), ("flask", "gunicorn")):
        result = subprocess.run(
            [str(venvs[name] / "bin" / "python"), "-m", "pip", "show", package],
            capture_output=True,
            text=True,
            check=True,
        )
        line = next(ln for ln in result.stdout.splitlines() if ln.startswith("Version:"))
        found[package] = line.split(":", 1)[1].strip()
    return found


def render(medians, info, verified, found_versions, started, load, args, wrk) -> str:
    """The one table: medians per server and cell, skserve's ratio to each peer."""
    lines = [
        f"skserve against its peers, {started:%Y-%m-%d %H:%M} UTC, the same cloudpickled "
        f"ColumnTransformer + GradientBoostingClassifier Adult pipeline, {args.workers} worker "
        f"processes each, {wrk_version(wrk)} (1 thread), {args.seconds:g} s per pass, medians "
        f"of {args.passes} interleaved passes; load average {load[0]:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end. Seldon MLServer {found_versions['mlserver']} "
        f"(mlserver-sklearn, pandas codec), Flask {found_versions['flask']} + gunicorn "
        f"{found_versions['gunicorn']} (sync workers). skserve fast_path="
        f"{info.get('fast_path')} ({info.get('fast_path_reason')}); {verified}.",
        "",
        "| server | " + " | ".join(label for label, _, _ in CELLS) + " |",
        "|---|" + "---|" * len(CELLS),
    ]
    for server in ("skserve", "MLServer", "Flask app"):
        cells = []
        for label, _, connections in CELLS:
            m = medians[(server, label)]
            p50 = f" (p50 {m['p50_ms']:.2f} ms)" if connections == 1 else ""
            errors = m["non2xx"] + m["socket_errors"]
            cells.append(f"{m['rps']:,.0f} req/s{p50}" + (f", {errors} errors" if errors else ""))
        lines.append(f"| {server} | " + " | ".join(cells) + " |")
    for peer in ("MLServer", "Flask app"):
        ratios = [
            f"{medians[('skserve', label)]['rps'] / max(medians[(peer, label)]['rps'], 1e-9):.1f}x"
            for label, _, _ in CELLS
        ]
        lines.append(f"| skserve / {peer} | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
