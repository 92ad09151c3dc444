"""The real libvirt daemons: the system libvirtd for tests/live/test_daemon.py, and a second
one (a session libvirtd) for tests/live/test_fleet_daemons.py.

Without root, the daemon's packages or libvirt's Python binding the daemon tests skip, with
the reason; under ``CI=true`` that is a failure instead, so that CI cannot pass without them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import unavailable
from tests.live.libvirt_daemon import Daemon, DaemonUnavailable, unavailable_reason
from tests.live.session_daemon import SessionDaemon


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


@pytest.fixture(scope="session")
def session_daemon() -> Iterator[SessionDaemon]:
    """A second libvirtd (session mode, user nobody, its own sockets and state) beside the
    system one; stopped and its state removed at the end."""
    reason = unavailable_reason()
    if reason is not None:
        _unavailable(reason)
    second = SessionDaemon()
    try:
        second.start()
    except (DaemonUnavailable, OSError) as exc:
        second.remove()
        _unavailable(f"a session libvirtd cannot run here: {exc}")
    try:
        yield second
    finally:
        second.remove()
