"""Numbers written as text, read the way PostgreSQL reads them: ASCII digits only.

float() alone also reads '１２' (fullwidth), '١٢' (Arabic-Indic) and '1_000'. Validation of
feature values and the CSV loader's type inference both go by NUMBER; no heavy imports here,
so the loader's command line stays quick to start.
"""

from __future__ import annotations

import re

# Compile with re.ASCII, so that \d is 0-9 only.
NUMBER = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(?i:nan|inf|infinity)"
# A feature value: spaces around the number are allowed, as float() allows them.
NUMBER_TEXT = re.compile(rf"\s*(?:{NUMBER})\s*", re.ASCII)
