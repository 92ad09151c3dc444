"""SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.

The rule table is the whole lint catalog (so ``ruleIndex`` is stable across runs); safe fixes
become ``fixes[].artifactChanges[].replacements`` with byte ranges into the file. A file that
is not UTF-8 without a byte-order mark gets no ``fixes``, since the edits' offsets index its
UTF-8 rendering, not its bytes. Columns count Unicode code points, as the findings do.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote

from famfs_xml import __version__
from famfs_xml.core.findings import Applicability, Finding, Severity
from famfs_xml.lint.catalog import RuleInfo, load_catalog
from famfs_xml.lint.run import RunResult
from famfs_xml.report.json_report import host_dict

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
VERSION = "2.1.0"
TOOL = "famfs-xml"
INFORMATION_URI = "https://github.com/famfs-xml/famfs-xml"

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def artifact_uri(path: str) -> str:
    """A relative URI reference for a relative path (as given); ``file://`` for absolute ones."""
    posix = path.replace("\\", "/") if PureWindowsPath(path).drive else path
    if PurePosixPath(posix).is_absolute():
        return "file://" + quote(posix, safe="/")
    return quote(posix, safe="/")


def _rule(rule: RuleInfo) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.explanation},
        "help": {"text": rule.explanation, "markdown": rule.explanation},
        "helpUri": rule.url,
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"tags": list(rule.tags), "fix": rule.fix.value},
    }


def _fixes(finding: Finding, uri: str) -> list[dict[str, Any]]:
    fix = finding.fix
    if fix is None or fix.applicability is not Applicability.SAFE:
        return []
    replacements = []
    for edit in sorted(fix.edits):
        replacement: dict[str, Any] = {
            "deletedRegion": {"byteOffset": edit.start, "byteLength": edit.end - edit.start},
        }
        if edit.text:
            replacement["insertedContent"] = {"text": edit.text}
        replacements.append(replacement)
    return [
        {
            "description": {"text": fix.message},
            "artifactChanges": [{"artifactLocation": {"uri": uri}, "replacements": replacements}],
        }
    ]


def _result(
    finding: Finding, index: dict[str, int], *, with_fixes: bool, host: str | None = None
) -> dict[str, Any]:
    uri = artifact_uri(finding.path)
    region: dict[str, int] = {"startLine": finding.line, "startColumn": finding.column}
    if finding.end_line is not None:
        region["endLine"] = finding.end_line
        if finding.end_column is not None:
            region["endColumn"] = finding.end_column
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": region}}],
    }
    if finding.code in index:
        result["ruleIndex"] = index[finding.code]
    fixes = _fixes(finding, uri) if with_fixes else []
    if fixes:
        result["fixes"] = fixes
    if host is not None:
        result["properties"] = {"host": host}  # the hypervisor the domain belongs to
    return result


def document(result: RunResult) -> dict[str, Any]:
    rules = [rule for code, rule in load_catalog().items() if code.startswith("FX")]
    index = {rule.code: position for position, rule in enumerate(rules)}
    invocation: dict[str, Any] = {"executionSuccessful": not result.errors}
    if result.errors:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": error}} for error in result.errors
        ]
    return {
        "$schema": SCHEMA_URI,
        "version": VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL,
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(rule) for rule in rules],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "invocations": [invocation],
                # the libvirt release the findings speak of (rules word what it does)
                "properties": _run_properties(result),
                "results": [
                    _result(finding, index, with_fixes=file.offsets_are_file_bytes, host=file.host)
                    for file in result.files
                    for finding in file.findings
                ],
            }
        ],
    }


def _run_properties(result: RunResult) -> dict[str, Any]:
    # the libvirt release the findings speak of (rules word what it does)
    libvirt = result.libvirt.report()
    properties: dict[str, Any] = {
        "libvirtVersion": libvirt["version"],
        "libvirtVersionSource": libvirt["source"],
    }
    if result.hosts:  # the hypervisors of a --connect run: URI, release, domains, error
        properties["hosts"] = [host_dict(host) for host in result.hosts]
    return properties


def render(result: RunResult, command: str) -> str:
    return json.dumps(document(result), indent=2, ensure_ascii=False) + "\n"
