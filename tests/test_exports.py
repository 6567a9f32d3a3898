"""The one place exports are made safe to open: CSV cells and markdown text."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from casey_flows.exports import FORMULA_TRIGGERS, md_literal, safe_cell, write_csv

FORMULAS = [
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1",
    "\r=1",
    "=",
    "+",
    "-",
]
DATA = ["+14155550100", "+1•••••0100", "-12", "-3.5", "+7", "1e5", "plain text", "", None, 3]


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_cells_become_text(value: str) -> None:
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", DATA)
def test_data_shapes_are_left_alone(value: object) -> None:
    assert safe_cell(value) == value


def test_write_csv_neutralises_every_column_unless_asked_not_to(tmp_path: Path) -> None:
    rows = [{"a": f, "new_column": f} for f in FORMULAS]
    safe = write_csv(tmp_path / "safe.csv", ["a", "new_column"], rows)
    with safe.open(newline="", encoding="utf-8") as handle:
        cells = [c for row in csv.DictReader(handle) for c in row.values()]
    assert cells and not any(c.startswith(FORMULA_TRIGGERS) for c in cells)
    raw = write_csv(tmp_path / "raw.csv", ["a"], [{"a": "=1+1"}], neutralize_formulas=False)
    assert "=1+1" in raw.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[click](http://evil.example)", "`[click](http://evil.example)`"),
        ("<img src=x onerror=alert(1)>", "`<img src=x onerror=alert(1)>`"),
        ("a | b", "`a \\| b`"),
        ("\\|[x](http://evil.example)", "`\\\\\\|[x](http://evil.example)`"),
        ("two\nlines", "`two lines`"),
        ("has `ticks`", "`` has `ticks` ``"),
        ("`edge", "`` `edge ``"),
        ("", ""),
    ],
)
def test_markdown_shows_untrusted_text_literally(text: str, expected: str) -> None:
    assert md_literal(text) == expected
