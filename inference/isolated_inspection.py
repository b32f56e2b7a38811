"""Check a pipeline file in a child process with memory and time limits.

Unpickling runs the file's code. An infinite loop, a memory bomb, `os._exit` or a segfault in
that code must not take the calling process (an API worker) down, so the file is unpickled
and inspected by `python -m inference.isolated_inspection` under RLIMIT_AS and a deadline.
A fresh interpreter rather than fork: forking a threaded gunicorn worker is unsafe. The child
answers JSON only, so nothing it sends back is unpickled here.

This bounds what a broken or hostile file costs the server; it is not a sandbox (the code
runs with the server's user and files), which is why uploads are an admin action.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from inference.artifact import ArtifactMetadata
from inference.inspection import InvalidPipelineError, inspect_pipeline
from inference.schema import FeatureSchema

STDERR_SHOWN = 500  # characters of the child's stderr quoted in an error


@dataclass(frozen=True)
class InspectionLimits:
    """What checking one file may cost (UPLOAD_INSPECT_SECONDS, UPLOAD_INSPECT_MEMORY_MIB)."""

    seconds: float = 30.0
    memory_mib: int = 2048


def inspect_isolated(
    data: bytes, schema: dict[str, Any] | None = None, limits: InspectionLimits | None = None
) -> ArtifactMetadata:
    """inspect_pipeline in a child process; InvalidPipelineError naming the limit it hit."""
    limits = limits or InspectionLimits()
    header = json.dumps({"schema": schema, "memory_mib": limits.memory_mib}).encode()
    process = subprocess.Popen(
        [sys.executable, "-m", "inference.isolated_inspection"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
        start_new_session=True,  # so a timeout stops whatever the file's code started too
    )
    try:
        out, err = process.communicate(header + b"\n" + data, timeout=limits.seconds)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise InvalidPipelineError(
            f"checking the file took longer than {limits.seconds:g} s "
            "(UPLOAD_INSPECT_SECONDS) and was stopped; unpickling runs the file's code"
        ) from None
    finally:
        _kill_group(process)
    return _read_answer(process.returncode, out, err, limits)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def _read_answer(code: int, out: bytes, err: bytes, limits: InspectionLimits) -> ArtifactMetadata:
    try:
        answer = json.loads(out.decode("utf-8").splitlines()[-1])
    except (UnicodeDecodeError, IndexError, ValueError):
        answer = None
    if code == 0 and isinstance(answer, dict) and "task" in answer:
        return ArtifactMetadata(
            schema=FeatureSchema.from_dict(answer["schema"]),
            task=answer["task"],
            classes=answer["classes"],
        )
    if isinstance(answer, dict) and answer.get("memory"):
        raise InvalidPipelineError(
            f"checking the file needed more than {limits.memory_mib} MiB "
            "(UPLOAD_INSPECT_MEMORY_MIB); unpickling runs the file's code"
        )
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        raise InvalidPipelineError(answer["error"])
    if code < 0:
        how = f"was killed by {signal.Signals(-code).name}"
    else:
        how = f"exited with status {code}"
    tail = err.decode("utf-8", "replace").strip()[-STDERR_SHOWN:]
    raise InvalidPipelineError(
        f"the process checking the file {how} while unpickling it (the file's code runs "
        f"then){': ' + tail if tail else ''}"
    )


def main() -> None:
    """The child: read a JSON header line and the file on stdin, answer one JSON line."""
    answer_to = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the file's code prints goes to stderr, not into the answer
    header = json.loads(sys.stdin.buffer.readline())
    limit = header["memory_mib"] * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    data = sys.stdin.buffer.read()
    try:
        metadata = inspect_pipeline(data, header["schema"])
        answer: dict[str, Any] = {
            "schema": metadata.schema.to_dict(),
            "task": metadata.task,
            "classes": metadata.classes,
        }
    except MemoryError:
        answer = {"memory": True}
    except InvalidPipelineError as exc:
        answer = {"error": str(exc)}
    answer_to.write(json.dumps(answer) + "\n")
    answer_to.flush()
    os._exit(0)  # the file's objects may hold threads or finalizers; do not run them


if __name__ == "__main__":
    main()
