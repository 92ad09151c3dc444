"""The JSON output contract, version 1."""

from __future__ import annotations

import json
from typing import Any

from famfs_xml.core.findings import Finding
from famfs_xml.lint.run import RunResult


def finding_dict(finding: Finding) -> dict[str, Any]:
    fix = None
    if finding.fix is not None:
        fix = {"applicability": finding.fix.applicability.value, "message": finding.fix.message}
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity.label,
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "message": finding.message,
        "fix": fix,
    }


def render(result: RunResult, command: str) -> str:
    findings = result.findings
    summary: dict[str, int] = {
        "files": len(result.linted),
        "findings": len(findings),
        "fixable": sum(1 for f in findings if f.fixable),
    }
    if command == "fix":
        summary["fixed"] = sum(len(r.fixed_codes) for r in result.files)
    document = {
        "version": 1,
        "libvirt": result.libvirt.report(),
        "findings": [finding_dict(f) for f in findings],
        "summary": summary,
    }
    return json.dumps(document, indent=2) + "\n"
