"""JUnit XML: a test suite per file, a failing test case per finding; a domain of a named
host (``--connect``, the configuration's ``[hosts]``) gives its suite that ``hostname``.

A file without findings gets one passing case, so a clean run still shows what was checked;
a run over no files at all gives a single passing case.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from famfs_xml.core.findings import Finding
from famfs_xml.lint.run import RunResult

SUITES = "famfs-xml"


def _case(suite: ET.Element, name: str, classname: str, finding: Finding | None) -> None:
    case = ET.SubElement(suite, "testcase", {"name": name, "classname": classname})
    if finding is None:
        return
    case.set("file", finding.path)
    case.set("line", str(finding.line))
    failure = ET.SubElement(
        case,
        "failure",
        {
            "message": finding.message,
            "type": finding.severity.label,
        },
    )
    failure.text = (
        f"line {finding.line}, col {finding.column}, "
        f"{finding.code} {finding.name}: {finding.message}"
    )


def render(result: RunResult, command: str) -> str:
    root = ET.Element("testsuites", {"name": SUITES})
    files = result.linted
    total_cases = total_failures = 0
    for file_result in files:
        findings = file_result.findings
        cases = max(len(findings), 1)
        attributes = {
            "name": file_result.path,
            "tests": str(cases),
            "failures": str(len(findings)),
            "errors": "0",
            "skipped": "0",
        }
        if file_result.host is not None:
            attributes["hostname"] = file_result.host  # the hypervisor of the domain
        suite = ET.SubElement(root, "testsuite", attributes)
        for finding in findings:
            _case(suite, f"{SUITES}.{finding.code}", file_result.path, finding)
        if not findings:
            _case(suite, "No problems found", file_result.path, None)
        total_cases += cases
        total_failures += len(findings)
    if not files:
        suite = ET.SubElement(
            root,
            "testsuite",
            {"name": SUITES, "tests": "1", "failures": "0", "errors": "0", "skipped": "0"},
        )
        _case(suite, "No problems found", SUITES, None)
        total_cases = 1
    root.set("tests", str(total_cases))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
