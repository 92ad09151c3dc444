"""Fixtures for the guest tier: real kernels booted through libvirt (see docs/guests.md).

The tier boots guests under TCG and takes minutes, so it runs when asked for: ``pytest -m
guest``, ``pytest tests/guests``, ``FAMFS_XML_GUESTS=1``, or ``CI=true``. Otherwise its tests
skip and say so. When asked for, a missing kernel (``python3 tests/guests/guestlab.py
fetch`` fetches it), libvirt or QEMU is a skip with the reason, and a failure under
``CI=true``.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guestlab import GuestKit, GuestLab, KitUnavailable
from libvirt_judge import JudgeUnavailable, LibvirtJudge, unavailable_reason

from tests.conftest import in_ci, unavailable

HERE = Path(__file__).resolve().parent
_LABS: list[GuestLab] = []


def _asked_for(config: pytest.Config) -> bool:
    """Was the guest tier selected: by marker, by path, or by environment?"""
    if in_ci() or os.environ.get("FAMFS_XML_GUESTS", "").strip() in {"1", "true", "yes"}:
        return True
    markexpr = config.getoption("markexpr", "") or ""
    if re.search(r"(?<!not )\bguest\b", markexpr):
        return True
    base = config.invocation_params.dir
    for arg in config.args:
        path = (base / arg.split("::", 1)[0]).resolve()
        if path == HERE or HERE in path.parents:
            return True
    return False


def _unavailable(reason: str) -> None:
    unavailable("the guest tier", reason)


@pytest.fixture(scope="session")
def guest_lab(pytestconfig: pytest.Config) -> Iterator[GuestLab]:
    """One lab for the session: the cached kernel, one embedded libvirt driver, a temp root."""
    if not _asked_for(pytestconfig):
        pytest.skip(
            "the guest tier boots real guests (minutes): run `pytest -m guest` or "
            "`pytest tests/guests`, or set FAMFS_XML_GUESTS=1"
        )
    reason = unavailable_reason()
    if reason is None and os.geteuid() != 0:
        reason = "the guest tier runs QEMU through libvirt's embedded driver as root"
    if reason is not None:
        _unavailable(reason)
    try:
        kit = GuestKit.load()
        kit.initramfs()
    except KitUnavailable as exc:
        _unavailable(str(exc))
        raise  # not reached
    cache = os.environ.get("FAMFS_XML_LIBVIRT_CACHE")
    judge = LibvirtJudge(caps_cache=Path(cache) if cache else None)
    root = Path(tempfile.mkdtemp(prefix="famfs-guests-"))
    try:
        try:
            judge.probe()
        except JudgeUnavailable as exc:
            _unavailable(str(exc))
        lab = GuestLab(kit, judge, root)
        _LABS.append(lab)
        yield lab
    finally:
        judge.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def workdir(guest_lab: GuestLab, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A directory for one test's domain files and backing files, removed afterwards."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:60]
    path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=guest_lab.root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How long the guests took: the tier's budget is 8 minutes under TCG on 2 cores."""
    boots = [boot for lab in _LABS for boot in lab.boots]
    if not boots:
        return
    ready = sorted(r for _, r, _ in boots if r is not None)
    total = sorted(t for _, _, t in boots)
    terminalreporter.write_sep("-", "guest boots")
    terminalreporter.write_line(
        f"{len(boots)} guests; 9p root ready after {ready[0]:.1f}-{ready[-1]:.1f} s "
        f"(median {ready[len(ready) // 2]:.1f}); start to power-off {total[0]:.1f}-"
        f"{total[-1]:.1f} s (median {total[len(total) // 2]:.1f})"
        if ready
        else f"{len(boots)} guests; none reached its 9p root"
    )
