"""Fixtures for the workflow tests: domains, a CLI runner, and the SARIF schema."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from workflow_samples import BROKEN, CLEAN, Cli, CliResult, text_of

from tests.conftest import unavailable


@pytest.fixture
def clean_xml() -> str:
    return CLEAN


@pytest.fixture
def broken_xml() -> str:
    return BROKEN


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Cli:
    """Run ``famfs-xml ARGS`` in-process; GITHUB_ACTIONS is cleared unless a test sets it."""
    from famfs_xml.cli.main import run

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)

    def invoke(*args: str, stdin: bytes = b"") -> CliResult:
        out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
        err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        with redirect_stdout(out), redirect_stderr(err):
            code = run(list(args))
        out.flush()
        err.flush()
        return CliResult(code, text_of(out), text_of(err))

    return invoke


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty current directory with no config file above it that could leak in."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield work


@pytest.fixture(scope="session")
def sarif_schema() -> dict[str, Any]:
    """The official SARIF 2.1.0 schema (``FAMFS_XML_SARIF_SCHEMA``); required under CI=true."""
    location = os.environ.get("FAMFS_XML_SARIF_SCHEMA")
    try:
        import jsonschema  # noqa: F401
    except ImportError:
        unavailable("SARIF validation", "jsonschema is not installed: SARIF output not validated")
    if not location or not Path(location).is_file():
        message = (
            "FAMFS_XML_SARIF_SCHEMA does not name the SARIF 2.1.0 schema file "
            f"(got {location!r}): SARIF output not validated"
        )
        unavailable("SARIF validation", message)
    with open(location, encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema
