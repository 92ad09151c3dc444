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


def annotation(finding: Finding, host: str | None = None) -> str:
    properties = [("file", finding.path), ("line", str(finding.line)), ("col", str(finding.column))]
    if finding.end_line is not None:
        properties.append(("endLine", str(finding.end_line)))
        if finding.end_column is not None and finding.end_line == finding.line:
            properties.append(("endColumn", str(finding.end_column)))
    properties.append(("title", finding.code if host is None else f"{finding.code} on {host}"))
    rendered = ",".join(f"{key}={escape_property(value)}" for key, value in properties)
    message = f"{finding.message} ({finding.name})"
    return f"::{_COMMAND[finding.severity]} {rendered}::{escape_data(message)}"


def render(result: RunResult, command: str) -> str:
    # the host goes into the title where the run spans several: the path may not show it
    several = len({file.host for file in result.files if file.host is not None}) > 1
    return "".join(
        annotation(finding, file.host if several else None) + "\n"
        for file in result.files
        for finding in file.findings
    )
