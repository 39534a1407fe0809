"""Reading the files an import accepts into plain rows, each checked on its own (SPEC §13).

- `hopla-csv`: the export (`tickets/export.py`); `external_ref` is its `key` (`OPS-12`).
- `github-json`: GitHub's REST issues list (`GET /repos/{owner}/{repo}/issues`, a JSON array);
  `external_ref` is `github:<number>`. Pull requests (items with `pull_request`) are skipped.
- `jira-csv`: Jira's CSV export (`Summary`, `Issue key`, `Status`, `Priority`, `Assignee`,
  `Description`, `Labels` repeated once per label...); `external_ref` is `jira:<Issue key>`.

CSV files may start with a UTF-8 byte order mark, be separated by `;` instead of `,` (spreadsheets in
many locales write that), end lines with CRLF and quote as RFC 4180 does. Statuses and priorities of
other tools map by the tables below; a value outside them is an error of its row.
"""

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tickets.export import FORMULA_STARTS
from tickets.models import Priority, Status

# GitHub: `state` is open or closed; a priority may be given by a label (the first that matches).
GITHUB_STATUS = {"open": Status.OPEN, "closed": Status.CLOSED}
GITHUB_PRIORITY_LABELS = {
    "priority: urgent": Priority.URGENT, "priority: critical": Priority.URGENT, "p0": Priority.URGENT,
    "priority: high": Priority.HIGH, "p1": Priority.HIGH,
    "priority: medium": Priority.MEDIUM, "p2": Priority.MEDIUM,
    "priority: low": Priority.LOW, "p3": Priority.LOW,
}  # fmt: skip
# Jira's default workflows and priority schemes (compared without case).
JIRA_STATUS = {
    "open": Status.OPEN, "to do": Status.OPEN, "backlog": Status.OPEN, "selected for development": Status.OPEN,
    "reopened": Status.OPEN, "in progress": Status.IN_PROGRESS, "in review": Status.IN_PROGRESS,
    "resolved": Status.RESOLVED, "done": Status.CLOSED, "closed": Status.CLOSED,
}  # fmt: skip
JIRA_PRIORITY = {
    "highest": Priority.URGENT, "blocker": Priority.URGENT, "high": Priority.HIGH, "critical": Priority.HIGH,
    "medium": Priority.MEDIUM, "major": Priority.MEDIUM, "low": Priority.LOW, "minor": Priority.LOW,
    "lowest": Priority.LOW, "trivial": Priority.LOW,
}  # fmt: skip
HOPLA_PRIORITY = {label: number for number, label in Priority.choices}
HOPLA_STATUS = {status.value: status for status in Status}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LABEL_FORBIDDEN = re.compile(r"[,\x00-\x1f\x7f]")
TITLE_MAX, DESCRIPTION_MAX, LABEL_MAX = 200, 50_000, 50


class UnreadableFile(Exception):
    """The file as a whole is not of its format: the import fails and writes nothing."""


@dataclass
class ImportRow:
    """One ticket to create, as read; `problems` are (field, message) pairs that refuse it."""

    row: int
    external_ref: str = ""
    title: str = ""
    description: str = ""
    status: str = Status.OPEN
    priority: int = Priority.MEDIUM
    labels: list[str] = field(default_factory=list)
    assignee_email: str = ""
    due_date: str = ""
    skip: bool = False  # not a ticket (a GitHub pull request): counted as skipped, no error
    problems: list[tuple[str, str]] = field(default_factory=list)

    def check(self) -> "ImportRow":
        if not self.external_ref:
            self.problems.append(("external_ref", "The row has no key to import it by."))
        if not self.title.strip():
            self.problems.append(("title", "A ticket needs a title."))
        elif len(self.title.strip()) > TITLE_MAX:
            self.problems.append(("title", f"The title is longer than {TITLE_MAX} characters."))
        if len(self.description) > DESCRIPTION_MAX:
            self.problems.append(("description", f"The description is longer than {DESCRIPTION_MAX} characters."))
        labels: list[str] = []
        for label in self.labels:
            label = " ".join(label.lower().split())
            if not label:
                continue
            if len(label) > LABEL_MAX or _LABEL_FORBIDDEN.search(label):
                self.problems.append(("labels", f"Label {label[:60]!r} is too long or has a comma."))
            elif label not in labels:
                labels.append(label)
        self.labels = labels
        self.title = self.title.strip()
        if self.due_date:
            try:
                date.fromisoformat(self.due_date)
            except ValueError:
                self.problems.append(("due_date", f"{self.due_date[:40]!r} is not a date (YYYY-MM-DD)."))
        return self


def _csv_records(data: bytes) -> tuple[list[str], Iterator[list[str]]]:
    """The header and the records of a CSV file: BOM, `;` or `,`, CRLF or LF."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UnreadableFile(f"The file is not UTF-8 text (byte {error.start}).") from error
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise UnreadableFile("The file is empty.") from None
    except csv.Error as error:
        raise UnreadableFile(f"The header row is not valid CSV: {error}.") from error
    return [name.strip() for name in header], reader


def _rows_of_csv(data: bytes, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, list[str]]]]:
    """Each record as {column: [values]} (a repeated column, as Jira's `Labels`, gives several)."""
    header, records = _csv_records(data)
    missing = [name for name in required if name not in header]
    if missing:
        raise UnreadableFile(f"Missing column(s): {', '.join(missing)}; the header is: {', '.join(header)[:300]}.")
    number = 0
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except csv.Error as error:
            raise UnreadableFile(f"Record {number + 1} is not valid CSV: {error}.") from error
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        number += 1
        values: dict[str, list[str]] = {}
        for name, cell in zip(header, record, strict=False):
            values.setdefault(name, []).append(cell)
        if len(record) != len(header):
            values["__width__"] = [str(len(record))]
        yield number, values


def _first(values: dict[str, list[str]], name: str) -> str:
    return (values.get(name) or [""])[0]


def _unguarded(cell: str) -> str:
    """The export's formula guard taken off: `'=x` was `=x`."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_STARTS) else cell


def _width_problem(row: ImportRow, values: dict[str, list[str]]) -> None:
    if "__width__" in values:
        row.problems.append(("row", f"The record has {values['__width__'][0]} cells, not as many as the header."))


def _email(value: str) -> str:
    value = value.strip()
    return value.lower() if _EMAIL.match(value) else ""


def read_hopla_csv(data: bytes) -> Iterator[ImportRow]:
    for number, values in _rows_of_csv(data, ("key", "title")):
        row = ImportRow(
            row=number,
            external_ref=_first(values, "key").strip(),
            title=_unguarded(_first(values, "title")),
            description=_unguarded(_first(values, "description")),
            labels=[label for label in _unguarded(_first(values, "labels")).split(",") if label.strip()],
            assignee_email=_email(_unguarded(_first(values, "assignee"))),
            due_date=_first(values, "due_date").strip(),
        )
        _width_problem(row, values)
        status, priority = _first(values, "status").strip().lower(), _first(values, "priority").strip().lower()
        if status:
            if status in HOPLA_STATUS:
                row.status = HOPLA_STATUS[status]
            else:
                row.problems.append(
                    ("status", f"Unknown status {status[:40]!r}; use one of: {', '.join(HOPLA_STATUS)}.")
                )
        if priority:
            if priority in HOPLA_PRIORITY:
                row.priority = HOPLA_PRIORITY[priority]
            else:
                message = f"Unknown priority {priority[:40]!r}; use one of: {', '.join(HOPLA_PRIORITY)}."
                row.problems.append(("priority", message))
        yield row.check()


def read_jira_csv(data: bytes) -> Iterator[ImportRow]:
    for number, values in _rows_of_csv(data, ("Summary", "Issue key")):
        key = _first(values, "Issue key").strip()
        row = ImportRow(
            row=number,
            external_ref=f"jira:{key}" if key else "",
            title=_first(values, "Summary"),
            description=_first(values, "Description"),
            labels=[label for label in values.get("Labels", []) if label.strip()],
            assignee_email=_email(_first(values, "Assignee")),
        )
        _width_problem(row, values)
        status, priority = _first(values, "Status").strip(), _first(values, "Priority").strip()
        if status:
            if status.lower() in JIRA_STATUS:
                row.status = JIRA_STATUS[status.lower()]
            else:
                row.problems.append(("status", f"Unknown Jira status {status[:40]!r} (see the README's table)."))
        if priority:
            if priority.lower() in JIRA_PRIORITY:
                row.priority = JIRA_PRIORITY[priority.lower()]
            else:
                row.problems.append(("priority", f"Unknown Jira priority {priority[:40]!r} (see the README's table)."))
        yield row.check()


def read_github_json(data: bytes) -> Iterator[ImportRow]:
    try:
        issues = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as error:
        raise UnreadableFile(f"The file is not JSON: {error}.") from error
    if not isinstance(issues, list) or not all(
        isinstance(issue, dict) and "number" in issue and "title" in issue for issue in issues
    ):
        raise UnreadableFile(
            "The file is not GitHub's issues list: a JSON array of issues, each with `number` and `title` "
            "(as GET /repos/{owner}/{repo}/issues answers)."
        )
    for number, issue in enumerate(issues, 1):
        labels = [
            label.get("name", "") if isinstance(label, dict) else str(label) for label in issue.get("labels") or []
        ]
        assignee = issue.get("assignee") if isinstance(issue.get("assignee"), dict) else {}
        row = ImportRow(
            row=number,
            external_ref=f"github:{issue['number']}" if isinstance(issue["number"], int) else "",
            title=issue["title"] if isinstance(issue["title"], str) else "",
            description=issue.get("body") if isinstance(issue.get("body"), str) else "",
            assignee_email=_email(str((assignee or {}).get("email") or "")),
            skip="pull_request" in issue,
        )
        state = issue.get("state")
        if state in GITHUB_STATUS:
            row.status = GITHUB_STATUS[state]
        else:
            row.problems.append(("state", f"Unknown GitHub state {str(state)[:40]!r}; expected open or closed."))
        for label in labels:
            if label.lower() in GITHUB_PRIORITY_LABELS:
                row.priority = GITHUB_PRIORITY_LABELS[label.lower()]
                break
        row.labels = [label for label in labels if label.lower() not in GITHUB_PRIORITY_LABELS]
        yield row.check()


READERS = {"hopla-csv": read_hopla_csv, "github-json": read_github_json, "jira-csv": read_jira_csv}


def read(file_format: str, data: bytes) -> list[ImportRow]:
    """Every row of the file, each checked; UnreadableFile when the file is not of its format."""
    return list(READERS[file_format](data))


def as_error_items(rows: list[ImportRow]) -> list[dict[str, Any]]:
    return [{"row": row.row, "field": name, "message": message} for row in rows for name, message in row.problems]
