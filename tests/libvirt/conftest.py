"""Fixtures for the tests that ask real libvirt for its verdict.

Every test in this folder needs the ``libvirt_judge`` fixture. Without libvirt the tests
skip, with the reason; under ``CI=true`` a missing libvirt is a failure instead, so that CI
cannot pass without the judge having run. ``FAMFS_XML_LIBVIRT_CACHE=DIR`` keeps libvirt's
QEMU capability probe (several seconds) between runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from libvirt_judge import JudgeUnavailable, LibvirtJudge, unavailable_reason

from tests.conftest import unavailable

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures"


def _unavailable(reason: str) -> None:
    unavailable("libvirt's judge", reason)


@pytest.fixture(scope="session")
def libvirt_judge() -> Iterator[LibvirtJudge]:
    """One embedded libvirt QEMU driver for the whole session (its first call probes QEMU)."""
    reason = unavailable_reason()
    if reason is not None:
        _unavailable(reason)
    cache = os.environ.get("FAMFS_XML_LIBVIRT_CACHE")
    judge = LibvirtJudge(caps_cache=Path(cache) if cache else None)
    try:
        judge.probe()
    except JudgeUnavailable as exc:
        judge.close()
        _unavailable(str(exc))
        raise  # not reached: _unavailable always raises
    try:
        yield judge
    finally:
        judge.close()
