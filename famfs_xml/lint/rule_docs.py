"""Rendering the catalog for ``famfs-xml rules`` and ``famfs-xml explain``."""

from __future__ import annotations

import json
from collections.abc import Mapping

from famfs_xml.lint.catalog import RuleInfo

_FIX_MARK = {"safe": "[*]", "unsafe": "[!]", "none": ""}


def rules_table(catalog: Mapping[str, RuleInfo]) -> str:
    rows = [("CODE", "NAME", "SEVERITY", "FIX", "TAGS", "SUMMARY")]
    for rule in catalog.values():
        rows.append(
            (
                rule.code,
                rule.name,
                rule.severity.label,
                rule.fix.value,
                ",".join(rule.tags),
                rule.summary,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5]
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def rules_json(catalog: Mapping[str, RuleInfo]) -> str:
    entries = [
        {
            "code": r.code,
            "name": r.name,
            "severity": r.severity.label,
            "fix": r.fix.value,
            "tags": list(r.tags),
            "summary": r.summary,
            "url": r.url,
        }
        for r in catalog.values()
    ]
    return json.dumps({"version": 1, "rules": entries}, indent=2) + "\n"


def explain_text(rule: RuleInfo) -> str:
    parts = [
        f"{rule.code} {rule.name}",
        f"severity: {rule.severity.label}    fix: {rule.fix.value}"
        + (f"    tags: {', '.join(rule.tags)}" if rule.tags else ""),
        "",
        rule.summary,
        "",
        rule.explanation,
    ]
    example = rule.example
    if example is not None:
        parts += ["", "Bad:", "", _indent(example.bad), "", "Good:", "", _indent(example.good)]
        if example.fixed is not None:
            parts += [
                "",
                "After `famfs-xml fix`"
                + (" --unsafe-fixes" if rule.fix.value == "unsafe" else "")
                + ":",
                "",
                _indent(example.fixed),
            ]
    return "\n".join(parts).rstrip() + "\n"


def _indent(text: str) -> str:
    lines = text.strip("\n").split("\n")
    return "\n".join(("    " + line) if line.strip() else "" for line in lines)
