"""Real protocol clients against `skserve serve` (gunicorn on SageMaker's port variable) on
PostgreSQL: tritonclient.http, the KServe SDK, an mlserver PandasCodec request, MLflow bodies."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from tests.api.helpers import features_of
from tests.api.protocol_bodies import MLFLOW_FORMATS, mlflow_body, v2_columns
from tests.processes import free_port, start_skserve, stop

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
KSERVE_VENV = ROOT / ".venv-kserve"
KSERVE_LOCK = Path(__file__).with_name("kserve.lock")


@pytest.fixture(scope="module")
def server(pg_url: str, adult_model, tmp_path_factory) -> Iterator[str]:
    """`skserve serve` with SageMaker's variables (port, 2 workers, timeout) on a free port."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    port = free_port()
    env = {
        "DATABASE_URL": pg_url,
        "DEFAULT_MODEL": "adult",
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT": "60",
    }
    base_url, process = start_skserve(["serve"], env, log, port)
    try:
        yield base_url
    finally:
        stop(process)


@pytest.fixture(scope="module")
def stored_rows(demo_tables) -> pd.DataFrame:
    """100 stored entities without missing values (tritonclient's JSON cannot carry NaN)."""
    with demo_tables.connect() as connection:
        rows = pd.read_sql(
            sa.text("SELECT * FROM adult_features ORDER BY id LIMIT 300"), connection
        )
    return features_of(rows.dropna().head(100))


def expected(pipeline, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """pipeline.predict and predict_proba, warnings quiet."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return pipeline.predict(frame), pipeline.predict_proba(frame)


def test_tritonclient_matches_the_pipeline(server: str, stored_rows, reference_pipelines) -> None:
    # Each heavy client library loads only in the test that speaks its protocol.
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(
        url=server.removeprefix("http://"), connection_timeout=10, network_timeout=60
    )
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready("adult")
    metadata = client.get_model_metadata("adult")
    assert metadata["platform"] == "sklearn"
    inputs = []
    for spec in metadata["inputs"]:
        values = stored_rows[spec["name"]].to_numpy()
        array = values.astype(np.float64 if spec["datatype"] == "FP64" else np.object_)
        tensor = httpclient.InferInput(spec["name"], [len(array), 1], spec["datatype"])
        tensor.set_data_from_numpy(array.reshape(-1, 1), binary_data=False)
        inputs.append(tensor)
    outputs = [
        httpclient.InferRequestedOutput(name, binary_data=False)
        for name in ("predict", "predict_proba")
    ]
    result = client.infer("adult", inputs, outputs=outputs, request_id="triton-1")
    body = result.get_response()
    pipeline = reference_pipelines("adult", int(body["model_version"]))
    predictions, probabilities = expected(pipeline, stored_rows)
    assert body["id"] == "triton-1"
    assert result.as_numpy("predict").tolist() == predictions.tolist()
    assert np.array_equal(result.as_numpy("predict_proba"), probabilities)
    client.close()


def test_mlserver_pandas_codec_and_kserve_agree(server: str, stored_rows, tmp_path) -> None:
    # Each heavy client library loads only in the test that speaks its protocol.
    from mlserver.codecs import PandasCodec

    # mlserver 1.7 does not know pandas 3's string dtype; give it the object columns it expects.
    strings = stored_rows.select_dtypes(exclude="number").columns
    request = PandasCodec.encode_request(stored_rows.astype({c: object for c in strings}))
    response = requests.post(
        f"{server}/v2/models/adult/infer",
        data=request.model_dump_json(exclude_none=True),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    mlserver_outputs = {o["name"]: o["data"] for o in response.json()["outputs"]}

    path = tmp_path / "request.json"
    path.write_text(json.dumps(v2_columns(stored_rows, shape_2d=True)))
    run = subprocess.run(
        [str(kserve_python()), str(Path(__file__).with_name("kserve_infer.py")), server, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["ready"] and answer["live"] and answer["model_ready"]
    assert answer["id"] == "kserve-1"
    kserve_outputs = {name: o["data"] for name, o in answer["outputs"].items()}
    assert kserve_outputs == mlserver_outputs


@pytest.mark.parametrize("shape", MLFLOW_FORMATS)
def test_mlflow_formats_match_the_native_route(server: str, stored_rows, shape: str) -> None:
    frame = stored_rows
    if shape == "instances_rows":
        order = [
            t["name"]
            for t in requests.get(f"{server}/v2/models/adult", timeout=10).json()["inputs"]
        ]
        frame = frame[order]
    answer = requests.post(f"{server}/invocations", json=mlflow_body(shape, frame), timeout=30)
    native = requests.post(
        f"{server}/models/adult/predict", json=mlflow_body("dataframe_split", frame), timeout=30
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"predictions": native.json()["predictions"]}


def test_sagemaker_ping(server: str) -> None:
    assert requests.get(f"{server}/ping", timeout=10).status_code == 200


def kserve_python() -> Path:
    """The kserve venv's Python, built from tests/clients/kserve.lock on first use."""
    python = KSERVE_VENV / "bin" / "python"
    stamp = KSERVE_VENV / ".lock"
    if not python.exists() or not stamp.exists() or stamp.read_text() != KSERVE_LOCK.read_text():
        print(f"building {KSERVE_VENV} for the KServe SDK (a minute, once) ...", file=sys.stderr)
        subprocess.run(["python3", "-m", "venv", str(KSERVE_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(KSERVE_LOCK)],
            check=True,
            timeout=900,
        )
        stamp.write_text(KSERVE_LOCK.read_text())
    return python
