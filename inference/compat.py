"""The one way skserve imports sklearn-pandas and unpickles artifacts.

sklearn-pandas 2.2.0 (the newest release) imports ``sklearn.utils.tosequence``, which
scikit-learn 1.7 removed. We put back the original three-line helper before the import, so
DataFrameMapper works unchanged on the newest scikit-learn. Unpickling goes through here
because a pickled DataFrameMapper imports sklearn_pandas when it is loaded.
"""

from __future__ import annotations

import logging
from typing import Any

import cloudpickle
import numpy as np
import sklearn.utils


def _tosequence(x: Any) -> Any:
    """scikit-learn's removed helper: x if it already is a sequence, else list(x)."""
    if isinstance(x, np.ndarray):
        return np.asarray(x)
    if isinstance(x, list | tuple):
        return x
    return list(x)


if not hasattr(sklearn.utils, "tosequence"):
    sklearn.utils.tosequence = _tosequence

import sklearn_pandas  # noqa: E402  (must follow the patch above)
from sklearn_pandas import DataFrameMapper  # noqa: E402

__all__ = ["DataFrameMapper", "dumps", "loads", "sklearn_pandas"]

# DataFrameMapper logs every column it transforms at INFO: thousands of lines per second in a
# server. Its warnings still come through.
logging.getLogger("sklearn_pandas").setLevel(logging.WARNING)


def dumps(obj: Any) -> bytes:
    """Serialise with cloudpickle."""
    return cloudpickle.dumps(obj)


def loads(data: bytes) -> Any:
    """Unpickle bytes that may hold sklearn-pandas objects."""
    return cloudpickle.loads(data)
