"""The JSON output contract, version 1.

Additions keep version 1: ``libvirt`` (the release the findings speak of), ``hosts`` (the
hypervisors a ``--connect`` run read; empty for files) and each finding's ``host`` (the
named host of its domain; null for a file that only its directory places).
"""

from __future__ import annotations

import json
from typing import Any

from famfs_xml.core.findings import Finding
from famfs_xml.lint.hosts import HostRecord
from famfs_xml.lint.run import RunResult


def finding_dict(finding: Finding, host: str | None = None) -> dict[str, Any]:
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
        "host": host,
    }


def host_dict(host: HostRecord) -> dict[str, Any]:
    """A hypervisor the run read: its name, URI, release, domains and error."""
    return {
        "name": host.name,
        "uri": host.uri,
        "libvirt": None if host.libvirt is None else host.libvirt.report(),
        "domains": host.domains,
        "error": host.error,
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
        "hosts": [host_dict(host) for host in result.hosts],
        "findings": [finding_dict(f, file.host) for file in result.files for f in file.findings],
        "summary": summary,
    }
    return json.dumps(document, indent=2) + "\n"
