"""Run by the kserve venv's Python (kserve pins python-dateutil<3, the runtime lock has 4):
readiness and one V2 infer with the KServe SDK's REST client; prints the outputs as JSON.

Usage: python kserve_infer.py BASE_URL REQUEST_JSON_FILE
"""

import asyncio
import json
import sys

from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def main(base_url: str, path: str) -> None:
    with open(path) as handle:
        tensors = json.load(handle)["inputs"]
    inputs = [InferInput(t["name"], t["shape"], t["datatype"], t["data"]) for t in tensors]
    client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30, retries=0))
    try:
        ready = await client.is_server_ready(base_url)
        live = await client.is_server_live(base_url)
        model_ready = await client.is_model_ready(base_url, "adult")
        request = InferRequest(model_name="adult", infer_inputs=inputs, request_id="kserve-1")
        response = await client.infer(base_url, request, model_name="adult")
    finally:
        await client.close()
    outputs = {o.name: {"shape": o.shape, "data": o.data} for o in response.outputs}
    print(
        json.dumps(
            {
                "ready": ready,
                "live": live,
                "model_ready": model_ready,
                "id": response.id,
                "outputs": outputs,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
