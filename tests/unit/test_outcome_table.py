"""The generated part of docs/reliability.md: only the table between the markers is replaced."""

from __future__ import annotations

import pytest

from tests.faults.outcome_table import BEGIN, DOCUMENT, END, Row, render, replace_table

ROWS = [
    Row("Kafka restarted", "acknowledged in the log", "3 of 3"),
    Row("Kafka restarted", "errors", "a | b"),
    Row("MongoDB restarted", "queries", "ok"),
]


def test_each_fault_is_named_once_and_cells_cannot_break_the_table() -> None:
    assert render(ROWS).splitlines()[2:] == [
        "| **Kafka restarted** | acknowledged in the log | 3 of 3 |",
        "|  | errors | a \\| b |",
        "| **MongoDB restarted** | queries | ok |",
    ]


def test_the_prose_around_the_markers_is_kept() -> None:
    document = f"intro\n{BEGIN}\nold table\n{END}\noutro\n"
    replaced = replace_table(document, ROWS)
    assert replaced == f"intro\n{BEGIN}\n{render(ROWS)}\n{END}\noutro\n"
    assert replace_table(replaced, ROWS) == replaced  # a second run changes nothing


def test_a_document_without_both_markers_is_refused() -> None:
    with pytest.raises(ValueError):
        replace_table(f"intro\n{BEGIN}\nno end marker\n", ROWS)


def test_the_committed_document_can_be_regenerated() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert text.index(BEGIN) < text.index(END)
