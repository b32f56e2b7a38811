"""Pickles whose code attacks the process that unpickles them, and what the upload must say."""

from __future__ import annotations

import os
import pickle
import sys


class Runs:
    """Unpickles by running `code` with exec."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


class Calls:
    """Unpickles by calling `function(*args)`."""

    def __init__(self, function, *args) -> None:
        self.function, self.args = function, args

    def __reduce__(self):
        return (self.function, self.args)


# name: (pickle bytes, a phrase the 422's message must hold)
HOSTILE_PICKLES: dict[str, tuple[bytes, str]] = {
    "infinite loop": (pickle.dumps(Runs("while True: pass")), "UPLOAD_INSPECT_SECONDS"),
    "sleeps forever": (
        pickle.dumps(Runs("import time; time.sleep(3600)")),
        "UPLOAD_INSPECT_SECONDS",
    ),
    "memory bomb": (
        pickle.dumps(Runs("x = []\nwhile True: x.append(bytearray(10**7))")),
        "UPLOAD_INSPECT_MEMORY_MIB",
    ),
    "one huge allocation": (
        pickle.dumps(Runs("b = bytearray(10**12)")),
        "UPLOAD_INSPECT_MEMORY_MIB",
    ),
    "os._exit": (pickle.dumps(Calls(os._exit, 3)), "exited with status 3"),
    "sys.exit": (pickle.dumps(Calls(sys.exit, 4)), "exited with status 4"),
    "segfault": (pickle.dumps(Runs("import ctypes; ctypes.string_at(0)")), "SIGSEGV"),
    "kills its own process": (
        pickle.dumps(Runs("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")),
        "SIGKILL",
    ),
    "prints a fake answer": (
        pickle.dumps(Runs('print(\'{"task": "regression"}\'); raise ValueError("no")')),
        "does not unpickle",
    ),
    "not a pipeline": (pickle.dumps({"predict": 1}), "not a scikit-learn"),
    "not a pickle": (b"\x80\x05this is not a pickle", "does not unpickle"),
}
