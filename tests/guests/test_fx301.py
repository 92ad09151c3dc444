"""The FX301 proof: without ``access='shared'`` each guest writes a private copy.

The pair from ``famfs-xml attach``, made private in the two ways a domain comes to be: A's
nvdimm has no ``access`` at all (libvirt then passes no ``share`` and QEMU maps privately),
B's says ``access='private'``. Each guest writes its marker into its own block and then reads
the other's: each sees only its own write, the other block shows what the host file holds,
and the file is unchanged. ``famfs-xml fix`` on both files, boot again: the markers cross and
land in the host file.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from guestlab import (
    Guest,
    GuestLab,
    GuestResult,
    Step,
    attach_domains,
    famfs_xml,
    make_backing,
)
from scenarios import PMEM_OFFSET, pmem_read, pmem_write

pytestmark = pytest.mark.guest

A, B = "fx301-a", "fx301-b"
OFFSETS = {A: PMEM_OFFSET, B: PMEM_OFFSET + 4096}  # each guest's own block


def cross(guest_lab: GuestLab, files: list[Path], token: str) -> dict[str, GuestResult]:
    """Each guest writes ``marker <token> <name>`` into its block, then (once the other has
    written) prints the other's block, read with O_DIRECT."""
    other = {A: B, B: A}
    guests = []
    for path, name in zip(files, (A, B), strict=True):
        steps = [
            Step("write", pmem_write(f"marker {token} {name}", OFFSETS[name])),
            Step(
                "read-other",
                pmem_read("iflag=direct", OFFSETS[other[name]]),
                after=f"{other[name]}.write",
            ),
        ]
        guests.append(Guest(path.read_text(), steps))
    return guest_lab.run(guests, timeout=300)


def test_private_nvdimm_keeps_writes_in_the_guest_until_fixed(
    guest_lab: GuestLab, workdir: Path
) -> None:
    token = secrets.token_hex(4)
    seed = {offset: f"host block {token} {name}".encode() for name, offset in OFFSETS.items()}
    backing = make_backing(workdir / "fx301-backing", 64, seed)
    before = backing.read_bytes()
    files = attach_domains(guest_lab, workdir, backing, (A, B))
    for path, private in zip(files, ("", " access='private'"), strict=True):
        text = path.read_text()
        assert text.count(" access='shared'") == 1
        path.write_text(text.replace(" access='shared'", private))
    lint = famfs_xml("lint", *map(str, files))
    assert lint.returncode == 1
    assert lint.stdout.count(" FX301 ") == 2, lint.stdout

    # Private: each guest sees its own write, and the host file's bytes in the other block.
    results = cross(guest_lab, files, token)
    for name, share in ((A, None), (B, False)):
        guest = results[name]
        assert guest.start_error is None, guest.start_error
        assert guest.finished, guest.diagnosis()
        # what libvirt gives QEMU: no share at all (QEMU's default is off), or share=false
        assert [backend.get("share") for backend in guest.memory_backends()] == [share]
        assert guest["write"].exit_code == 0, guest["write"]
        assert guest["write"].stdout == f"marker {token} {name}"
        other = B if name == A else A
        assert guest["read-other"].exit_code == 0, guest["read-other"]
        assert guest["read-other"].stdout == seed[OFFSETS[other]].decode()
    assert backing.read_bytes() == before

    # famfs-xml fix adds access='shared' to both; booted again, each marker crosses.
    fix = famfs_xml("fix", *map(str, files))
    assert fix.returncode == 0, fix.stdout + fix.stderr
    for path in files:
        assert "<memory model='nvdimm' access='shared'>" in path.read_text()
    assert famfs_xml("lint", *map(str, files)).returncode == 0
    results = cross(guest_lab, files, token)
    data = backing.read_bytes()
    for name in (A, B):
        guest = results[name]
        assert guest.start_error is None, guest.start_error
        assert guest.finished, guest.diagnosis()
        assert [backend.get("share") for backend in guest.memory_backends()] == [True]
        other = B if name == A else A
        assert guest["read-other"].exit_code == 0, guest["read-other"]
        assert guest["read-other"].stdout == f"marker {token} {other}"
        marker = f"marker {token} {name}".encode()
        offset = OFFSETS[name]
        assert data[offset : offset + len(marker)] == marker
    # nothing else of the file changed
    start, end = PMEM_OFFSET, PMEM_OFFSET + 2 * 4096
    assert data[:start] == before[:start]
    assert data[end:] == before[end:]
