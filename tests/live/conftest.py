"""The real libvirtd for tests/live/test_daemon.py.

Without root, the daemon's packages or libvirt's Python binding the daemon tests skip, with
the reason; under ``CI=true`` that is a failure instead, so that CI cannot pass without them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import unavailable
from tests.live.libvirt_daemon import Daemon, DaemonUnavailable, unavailable_reason


def _unavailable(reason: str) -> None:
    unavailable("the libvirt daemon tests", reason)


@pytest.fixture(scope="session")
def daemon() -> Iterator[Daemon]:
    """libvirtd on qemu:///system; the domains the tests define are removed at the end."""
    reason = unavailable_reason()
    if reason is not None:
        _unavailable(reason)
    running = Daemon()
    try:
        running.start()
    except (DaemonUnavailable, OSError) as exc:
        running.stop()
        _unavailable(str(exc))
    try:
        running.remove_test_domains()  # left over from an interrupted run
        yield running
    finally:
        running.remove_test_domains()
        running.stop()
