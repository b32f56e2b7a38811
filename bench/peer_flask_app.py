"""The plain Flask + gunicorn app of bench/peers.py, written the way the seed projects serve.

    PEER_PICKLE=pipeline.pkl gunicorn -w 2 bench.peer_flask_app:app

Unpickles the pipeline at import, then answers POST /predict (one JSON record or a list of
them) with the pipeline's `predict` and `predict_proba`, as a hand-written service would. Runs
in the peers' own virtual environment, never imported by skserve.
"""

import os

import cloudpickle
import pandas as pd
from flask import Flask, jsonify, request

with open(os.environ["PEER_PICKLE"], "rb") as file:
    pipeline = cloudpickle.load(file)

app = Flask(__name__)


@app.post("/predict")
def predict():
    """Predictions and class probabilities of the posted records."""
    body = request.get_json()
    frame = pd.DataFrame(body if isinstance(body, list) else [body])
    return jsonify(
        predictions=pipeline.predict(frame).tolist(),
        probabilities=pipeline.predict_proba(frame).tolist(),
        classes=pipeline.classes_.tolist(),
    )


@app.get("/health")
def health():
    """Up."""
    return {"status": "ok"}
