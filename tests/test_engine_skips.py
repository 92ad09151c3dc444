"""Work the engine skips never changes a result.

The memory-device checks (``checks.MEMORY_DEVICE_CODES``) are not run for a domain without
memory devices: here every such check is run on domains stripped of their devices and finds
nothing, and whole runs with and without the skip give the same findings and fixes. The
domains are the bundled fixtures and, with ``FAMFS_XML_LIBVIRT_CORPUS`` and
``FAMFS_XML_WILD_CORPUS`` set, libvirt's test inputs and the collected real-world domains.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from famfs_xml.lint import checks, engine
from famfs_xml.lint.catalog import load_catalog
from famfs_xml.lint.document import load
from famfs_xml.lint.options import LintOptions
from famfs_xml.lint.run import RunResult, lint_paths
from famfs_xml.lint.selection import select_codes
from tests.conftest import FIXTURES

# every rule but the schema check (slow, and blind to memory devices), info ones included
_CODES = select_codes(load_catalog(), ["ALL"], (), ["FX901"])
EVERY_RULE = LintOptions(_CODES, named=_CODES)


def _trees() -> list[Path]:
    found = [FIXTURES]
    for variable, below in (("FAMFS_XML_LIBVIRT_CORPUS", "inputs"), ("FAMFS_XML_WILD_CORPUS", "")):
        value = os.environ.get(variable)
        if value and (Path(value) / below).is_dir():
            found.append(Path(value) / below)
    return found


def _domains() -> Iterator[tuple[str, bytes]]:
    for tree in _trees():
        for path in sorted(tree.rglob("*.xml")):
            yield str(path), path.read_bytes()


def _without_memory_devices(raw: bytes, path: str) -> bytes | None:
    """The domain with every ``<devices><memory>`` removed; None for no parsed domain."""
    doc = load(raw, path)
    if not doc.is_domain:
        return None
    assert doc.root is not None
    for devices in doc.root.iterchildren("devices"):
        for memory in list(devices.iterchildren("memory")):
            devices.remove(memory)
    return etree.tostring(doc.root)


def test_memory_device_checks_find_nothing_without_memory_devices() -> None:
    checked = 0
    for path, raw in _domains():
        stripped = _without_memory_devices(raw, path)
        if stripped is None:
            continue
        context = engine.context_for(load(stripped, path), EVERY_RULE)
        assert context is not None and not context.domain.memory_devices
        for code in sorted(checks.MEMORY_DEVICE_CODES):
            found = list(checks.DOCUMENT_CHECKS[code](context))
            assert found == [], (path, code, [f.message for f in found])
        checked += 1
    assert checked > 50


@pytest.fixture
def without_the_skip(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every check runs on every domain, as before the skip."""
    engine._selected_checks.cache_clear()
    monkeypatch.setattr(checks, "MEMORY_DEVICE_CODES", frozenset())
    yield
    engine._selected_checks.cache_clear()


def _everything(result: RunResult) -> list[object]:
    return [
        (r.path, r.skipped, [(*f.sort_key(), f.severity, f.message, f.fix) for f in r.findings])
        for r in result.files
    ]


@pytest.mark.parametrize("tree", _trees(), ids=lambda tree: tree.name)
def test_the_skip_changes_no_finding_and_no_fix(tree: Path, request: pytest.FixtureRequest) -> None:
    engine._selected_checks.cache_clear()
    with_skip = _everything(lint_paths([str(tree)], EVERY_RULE, jobs=1))
    request.getfixturevalue("without_the_skip")
    assert _everything(lint_paths([str(tree)], EVERY_RULE, jobs=1)) == with_skip
