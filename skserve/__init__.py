"""skserve: the `skserve` command line (the top floor, which may import every package).

`skserve.load_model(path_or_url)` turns a downloaded artifact back into the fitted pipeline.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path
from typing import Any

SHA_HEADER = "X-Model-SHA256"


def load_model(path_or_url: str | os.PathLike[str], *, timeout: float = 60.0) -> Any:
    """The fitted pipeline in an artifact file, or at an http(s) URL such as /model/download."""
    # Imported here so `skserve --help` does not pay for importing scikit-learn.
    from inference.artifact import CorruptArtifactError, unpickle_pipeline

    source = os.fspath(path_or_url)
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=timeout) as response:
            data, expected = response.read(), response.headers.get(SHA_HEADER)
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise CorruptArtifactError(f"{source} sent bytes whose sha256 is not {expected}")
    else:
        data = Path(source).read_bytes()
    return unpickle_pipeline(data)
