#!/bin/sh
# pip install "$@" from /wheels (built on the host by `make wheelhouse`) without any network,
# or from the package index when the wheelhouse is empty.
set -eu
if ls /wheels/*.whl >/dev/null 2>&1; then
    exec pip install --no-index --find-links /wheels "$@"
fi
exec pip install "$@"
