"""``--statistics`` (a count per rule, as ruff prints it) and ``--show-fixes`` (what fix did)."""

from __future__ import annotations

from collections import Counter

from famfs_xml.lint.catalog import load_catalog
from famfs_xml.lint.run import RunResult


def _name(code: str) -> str:
    rule = load_catalog().get(code)
    return rule.name if rule is not None else ""


def rows(result: RunResult) -> list[dict[str, object]]:
    """One row per code, most frequent first: count, code, name, fixable."""
    findings = result.findings
    counts = Counter(f.code for f in findings)
    fixable = {f.code for f in findings if f.fixable}
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [
        {"code": code, "name": _name(code), "count": count, "fixable": code in fixable}
        for code, count in ordered
    ]


def render(result: RunResult) -> str:
    """``COUNT<TAB>CODE<TAB>[*] name`` per rule; ``[*]`` = a safe fix exists."""
    table = rows(result)
    if not table:
        return ""
    count_width = max(len(str(row["count"])) for row in table)
    code_width = max(len(str(row["code"])) for row in table)
    lines = []
    for row in table:
        marker = "[*]" if row["fixable"] else "[ ]"
        lines.append(
            f"{row['count']!s:>{count_width}}\t{row['code']!s:<{code_width}}\t"
            f"{marker} {row['name']}"
        )
    return "\n".join(lines) + "\n"


def render_json(result: RunResult) -> str:
    import json

    return json.dumps(rows(result), indent=2) + "\n"


def render_fixes(result: RunResult) -> str:
    """The fixes applied, per file: ``N x CODE (name)``."""
    changed = [r for r in result.files if r.fixed_codes]
    if not changed:
        return "No fixes applied.\n"
    total = sum(len(r.fixed_codes) for r in changed)
    lines = [f"Fixed {total} problem{'' if total == 1 else 's'}:"]
    for file_result in changed:
        lines.append(f"- {file_result.path}:")
        counts = Counter(file_result.fixed_codes)
        for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            lines.append(f"    {count} x {code} ({_name(code)})")
    return "\n".join(lines) + "\n"
