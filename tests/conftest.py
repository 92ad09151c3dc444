"""Shared test helpers. Area-specific fixtures live in the conftest.py of each test folder."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"


def in_ci() -> bool:
    """``CI=true`` (or 1, yes): a test tier whose prerequisites are missing fails instead of
    skipping, so that CI cannot pass without having run it."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(what: str, reason: str) -> NoReturn:
    """Skip for ``reason``, or under CI fail, saying that ``what`` cannot run."""
    if in_ci():
        pytest.fail(f"CI=true but {what} cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _libvirt_release_unknown(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CLI run in the tests speaks of no installed libvirt release unless the test asks
    for one (``--libvirt-version``) or is marked ``installed_libvirt``: the same output on
    Debian 12's libvirt 9.0, Debian sid's 12.8 and a machine without libvirt."""
    if request.node.get_closest_marker("installed_libvirt") is None:
        from famfs_xml.host import libvirt_install

        monkeypatch.setattr(libvirt_install, "installed_libvirt", lambda root=None: None)


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def snapshot(self, root: Path | None = None) -> dict[str, object]:
        """A stable form for syrupy: temp paths replaced by <tmp>."""

        def clean(text: str) -> str:
            return text.replace(str(root), "<tmp>") if root else text

        return {
            "exit_code": self.exit_code,
            "stdout": clean(self.stdout),
            "stderr": clean(self.stderr),
        }


Cli = Callable[..., CliResult]


def _in_process_cli(
    capfdbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    from famfs_xml.cli.main import run

    def invoke(*args: str, stdin: bytes = b"", cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        capfdbinary.readouterr()
        code = run(list(args))
        out, err = capfdbinary.readouterr()
        return CliResult(code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    return invoke


@pytest.fixture
def cli(capfdbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run ``famfs-xml ARGS`` in this process; ``stdin`` feeds standard input."""
    return _in_process_cli(capfdbinary, monkeypatch)


@pytest.fixture
def famfs_cli(capfdbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The whole ``famfs-xml`` app, for test folders whose own ``cli`` fixture is narrower."""
    return _in_process_cli(capfdbinary, monkeypatch)


def run_entry_point(
    args: Sequence[str], *, stdin: bytes = b"", cwd: Path | None = None, timeout: float = 60
) -> CliResult:
    """Run ``python -m famfs_xml`` as a real process (exit codes, streams, no traceback)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "famfs_xml", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
    )
    return CliResult(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )
