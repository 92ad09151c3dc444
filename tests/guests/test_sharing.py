"""The sharing proof: two guests booted from ``famfs-xml attach`` output share one device
(``sharing.py`` has the guests and the verdict).

On Linux 6.1 the pair boots here; on Linux 7.2 (Debian sid's kernel and root, ndctl 85) it
boots in the 7.2 wave of ``conftest.py``, beside the device-tool guests, and A also takes
the device to famfs mode and back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from guestlab import GuestLab
from sharing import assert_shared, lint_clean, sharing_pair
from wave72 import Wave72

pytestmark = pytest.mark.guest


def test_two_guests_share_the_device_as_pmem_and_as_devdax(
    guest_lab: GuestLab, workdir: Path
) -> None:
    pair = sharing_pair(guest_lab, workdir)
    lint_clean(pair)
    assert_shared(pair, guest_lab.run(pair.guests, timeout=420))


def test_on_linux_72_too_and_through_famfs_mode(linux72_wave: Wave72) -> None:
    pair = linux72_wave.sharing
    lint_clean(pair)
    assert_shared(pair, linux72_wave.results)
