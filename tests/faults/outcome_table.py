"""The fault, check and result table of docs/reliability.md, written from what the tests measured.

A table typed by hand drifts from what the code does; one written by the tests that break the
stack says what actually happened on the last full run. Only the part between the two markers is
generated, so the prose around it (what each fault does and why it matters) stays hand-written.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.support.infra import ROOT

DOCUMENT = ROOT / "docs" / "reliability.md"
BEGIN = "<!-- outcome-table:begin (written by tests/faults/conftest.py; edits here are lost) -->"
END = "<!-- outcome-table:end -->"


@dataclass(frozen=True)
class Row:
    fault: str
    check: str
    result: str


class OutcomeTable:
    """The rows one test adds: call `record` after the assertion the row reports on passed."""

    def __init__(self, rows: list[Row]) -> None:
        self._rows = rows

    def record(self, fault: str, check: str, result: str) -> None:
        self._rows.append(Row(fault, check, result))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(rows: list[Row]) -> str:
    """A Markdown table; a fault is named on its first row only, so its checks read as a group."""
    lines = ["| Fault | What was checked | Result of the last full run |", "|---|---|---|"]
    previous = None
    for row in rows:
        fault = f"**{_cell(row.fault)}**" if row.fault != previous else ""
        lines.append(f"| {fault} | {_cell(row.check)} | {_cell(row.result)} |")
        previous = row.fault
    return "\n".join(lines)


def replace_table(document: str, rows: list[Row]) -> str:
    """`document` with the text between the markers replaced by the table of `rows`."""
    if document.count(BEGIN) != 1 or document.count(END) != 1:
        raise ValueError(f"{DOCUMENT.name} needs exactly one {BEGIN!r} and one {END!r}")
    head, rest = document.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{render(rows)}\n{END}{tail}"
