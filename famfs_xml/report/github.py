"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` per finding.

Escaping follows the Actions toolkit (``@actions/core`` ``command.ts``): in the message
``%``, CR and LF become ``%25``, ``%0D`` and ``%0A``; property values also escape ``:`` and
``,`` as ``%3A`` and ``%2C``.
"""

from __future__ import annotations

from famfs_xml.core.findings import Finding, Severity
from famfs_xml.lint.run import RunResult

_COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding) -> str:
    properties = [("file", finding.path), ("line", str(finding.line)), ("col", str(finding.column))]
    if finding.end_line is not None:
        properties.append(("endLine", str(finding.end_line)))
        if finding.end_column is not None and finding.end_line == finding.line:
            properties.append(("endColumn", str(finding.end_column)))
    properties.append(("title", finding.code))
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    message = f"{finding.message} ({finding.name})"
    return f"::{_COMMAND[finding.severity]} {rendered}::{escape_data(message)}"


def render(result: RunResult, command: str) -> str:
    return "".join(annotation(finding) + "\n" for finding in result.findings)
