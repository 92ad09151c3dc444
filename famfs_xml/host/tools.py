"""Run ``daxctl`` / ``ndctl`` and capture what they say."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

# ndctl and daxctl exit with (-errno & 0xff); these are the ones worth naming.
_EXIT_MEANINGS = {
    128: "fatal error",
    129: "usage error",
    161: "operation not supported",
    228: "no space left",
    234: "invalid argument",
    237: "no such device",
    240: "device or resource busy",
    243: "permission denied",
    250: "no such device or address",
}

_RECONFIGURED = re.compile(r"reconfigured (\d+) devices?")


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one run. ``returncode`` is None when the run timed out or never started."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    error: str | None = None  # why the program could not be run, or the timeout

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.error is None

    def describe_failure(self) -> str:
        """One line: the exit status and the tool's own last words on stderr."""
        if self.error is not None:
            return self.error
        meaning = _EXIT_MEANINGS.get(self.returncode or 0)
        status = f"exit {self.returncode}" + (f" ({meaning})" if meaning else "")
        said = last_message(self.stderr)
        return f"{self.program} failed with {status}" + (f": {said}" if said else "")

    @property
    def program(self) -> str:
        return os.path.basename(self.argv[0])


def last_message(stderr: str) -> str:
    """The most telling stderr line: the last error line, skipping the ``reconfigured`` tally."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    lines = [line for line in lines if not _RECONFIGURED.fullmatch(line)]
    errors = [line for line in lines if "error" in line.lower() or "failed" in line.lower()]
    picked = errors or lines
    return picked[-1] if picked else ""


def reconfigured_count(stderr: str) -> int | None:
    """The N of daxctl's ``reconfigured N devices`` line, when it printed one."""
    match = _RECONFIGURED.search(stderr)
    return int(match.group(1)) if match else None


def find_tool(name: str) -> str | None:
    return shutil.which(name)


def run_tool(argv: Sequence[str], timeout: float) -> ToolResult:
    """Run ``argv`` without a shell; never raises for a missing program or a timeout."""
    args = tuple(argv)
    try:
        done = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        return ToolResult(args, None, "", "", error=f"{args[0]} is not installed (not on PATH)")
    except subprocess.TimeoutExpired as exc:
        return ToolResult(
            args,
            None,
            _text(exc.stdout),
            _text(exc.stderr),
            error=f"{args[0]} did not finish within {timeout:g} s",
        )
    except OSError as exc:
        return ToolResult(args, None, "", "", error=f"cannot run {args[0]}: {exc.strerror}")
    return ToolResult(args, done.returncode, done.stdout, done.stderr)


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data
