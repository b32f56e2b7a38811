"""Shell examples in the docs can be pasted: no variable is left inside single quotes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)
QUOTED_VARIABLE = re.compile(r"'[^'\n]*\$[A-Z_]+[^'\n]*'")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_no_shell_variable_sits_in_single_quotes(path):
    blocks = SHELL_BLOCK.findall(path.read_text())
    assert [m for block in blocks for m in QUOTED_VARIABLE.findall(block)] == []


def test_the_checker_catches_the_mistake_it_is_for():
    assert QUOTED_VARIABLE.findall("curl -s 'localhost:8000/jobs/$ID/results?offset=0'")
    assert not QUOTED_VARIABLE.findall('curl -s "localhost:8000/jobs/$ID/results"')
