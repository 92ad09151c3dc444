"""``path:line:col: CODE [*] message`` lines and a summary (ruff's concise format)."""

from __future__ import annotations

from famfs_xml.lint.run import RunResult


def render(result: RunResult, command: str) -> str:
    lines = []
    for finding in result.findings:
        marker = " [*]" if finding.fixable else ""
        lines.append(
            f"{finding.path}:{finding.line}:{finding.column}: "
            f"{finding.code}{marker} {finding.message}"
        )
    lines.append(summary(result, command))
    return "\n".join(lines) + "\n"


def _problems(count: int) -> str:
    return f"{count} problem" + ("" if count == 1 else "s")


def summary(result: RunResult, command: str) -> str:
    findings = result.findings
    fixable = sum(1 for f in findings if f.fixable)
    if command == "fix":
        fixed = sum(len(r.fixed_codes) for r in result.files)
        return f"Fixed {_problems(fixed)}; found {_problems(len(findings))} ({fixable} fixable)."
    return f"Found {_problems(len(findings))} ({fixable} fixable)."
