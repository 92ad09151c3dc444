"""Fixtures for the guest tier: real kernels booted through libvirt (see docs/guests.md).

The tier boots guests under TCG and takes minutes, so it runs when asked for: ``pytest -m
guest``, ``pytest tests/guests``, ``FAMFS_XML_GUESTS=1``, or ``CI=true``. Otherwise its tests
skip and say so. When asked for, a missing kernel (``python3 tests/guests/guestlab.py
fetch`` fetches it), libvirt or QEMU is a skip with the reason, and a failure under
``CI=true``.

Two kernels: ``guest_lab`` boots Debian 12's Linux 6.1 with the host's own root (Python 3.11,
ndctl/daxctl 76.1); ``sid_lab`` boots Debian sid's Linux 7.2 in the Debian sid root of
``tests/sidroot.py`` (Python 3.14, ndctl/daxctl 85), and ``linux72_lab`` the same kernel with
the host's root, for daxctl 76.1 on Linux 7.2. The 7.2 labs are variants of ``guest_lab``:
their guests boot together with its guests.
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

import sidroot
from guestlab import GuestKit, GuestLab, KitUnavailable
from libvirt_judge import JudgeUnavailable, LibvirtJudge, unavailable_reason
from wave72 import Wave72, boot_wave72

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


def _sid_kit() -> GuestKit:
    try:
        kit = GuestKit.load(suite="sid")
        kit.initramfs()
    except KitUnavailable as exc:
        _unavailable(str(exc))
        raise  # not reached
    return kit


@pytest.fixture(scope="session")
def sid_lab(guest_lab: GuestLab) -> GuestLab:
    """Linux 7.2 (Debian sid's kernel) in the Debian sid root: daxctl/ndctl 85, Python 3.14,
    famfs-xml from the checkout with the dependencies of the root's venv."""
    kit = _sid_kit()
    root = sidroot.root_path()
    python = root / sidroot.VENV.lstrip("/") / "bin" / "python"
    if not (root / "versions.json").is_file():
        _unavailable(f"no Debian sid root in {root.parent}: run `python3 tests/sidroot.py build`")
    if not python.exists() or not any(root.glob("opt/*/lib/python3*/site-packages/typer")):
        _unavailable(
            f"no famfs-xml venv in the sid root ({sidroot.VENV}): "
            "run `python3 tests/sidroot.py venv`"
        )
    return guest_lab.variant(kit, userland=root, python=f"{sidroot.VENV}/bin/python")


@pytest.fixture(scope="session")
def linux72_lab(guest_lab: GuestLab) -> GuestLab:
    """Linux 7.2 with the host's own root: the Debian 12 userland, daxctl 76.1."""
    return guest_lab.variant(_sid_kit())


@pytest.fixture(scope="session")
def linux72_wave(guest_lab: GuestLab, sid_lab: GuestLab, linux72_lab: GuestLab) -> Wave72:
    """The Linux 7.2 guests of the device tools and of the sharing proof, booted together
    once (``wave72.py``)."""
    directory = Path(tempfile.mkdtemp(prefix="wave72-", dir=guest_lab.root))
    return boot_wave72(guest_lab, sid_lab, linux72_lab, directory)


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
    """How long the guests took, per kernel: the tier's budget is 8 minutes on Linux 6.1 and
    3 more on Linux 7.2, under TCG on 2 cores."""
    boots = [boot for lab in _LABS for boot in lab.boots]
    if not boots:
        return
    terminalreporter.write_sep("-", "guest boots")
    for kernel in sorted({boot[3] for boot in boots}):
        mine = [boot for boot in boots if boot[3] == kernel]
        ready = sorted(r for _, r, _, _ in mine if r is not None)
        total = sorted(t for _, _, t, _ in mine)
        terminalreporter.write_line(
            f"{kernel}: {len(mine)} guests; 9p root ready after {ready[0]:.1f}-{ready[-1]:.1f} s "
            f"(median {ready[len(ready) // 2]:.1f}); start to power-off {total[0]:.1f}-"
            f"{total[-1]:.1f} s (median {total[len(total) // 2]:.1f})"
            if ready
            else f"{kernel}: {len(mine)} guests; none reached its 9p root"
        )
