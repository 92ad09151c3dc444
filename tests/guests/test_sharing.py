"""The sharing proof: two guests booted from ``famfs-xml attach`` output share one device.

Guest A writes a marker through ``/dev/pmem0``; guest B, running at the same time, reads it,
and the host's backing file holds it. Then both convert their namespace to devdax with
``famfs-xml device convert … --yes`` (the guide's "Test your pmem device" step), A writes a
second marker through an mmap of ``/dev/dax0.0`` and B reads it from its own mapping.
"""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path

import pytest
from guestlab import Guest, GuestLab, Step, attach_domains, famfs_xml, make_backing
from scenarios import CONVERT, DAX_OFFSET, PMEM_OFFSET, MiB, dax_python, pmem_read, pmem_write

pytestmark = pytest.mark.guest


def test_two_guests_share_the_device_as_pmem_and_as_devdax(
    guest_lab: GuestLab, workdir: Path
) -> None:
    token = secrets.token_hex(4)
    pmem_marker = f"famfs-xml pmem marker {token}"
    dax_marker = f"famfs-xml dax marker {token}"
    backing = make_backing(workdir / "shared-backing", 64)
    a_xml, b_xml = attach_domains(guest_lab, workdir, backing, ["share-a", "share-b"])
    lint = famfs_xml("lint", str(a_xml), str(b_xml))
    assert lint.returncode == 0, lint.stdout + lint.stderr  # what attach writes lints clean

    writer = [
        Step("namespaces", "ndctl list -N"),
        # B has read the block (and keeps the device open) before A writes it
        Step("write-pmem", pmem_write(pmem_marker), after="share-b.prime"),
        Step("convert", CONVERT, after="share-b.read-pmem"),
        Step("converted", "ndctl list -N"),
        Step("write-dax", dax_python(dax_marker), after="share-b.converted"),
    ]
    reader = [
        # A reader that keeps /dev/pmem0 open keeps its page cache: a buffered read after
        # A's write shows the old block, an O_DIRECT read shows A's marker.
        Step(
            "prime",
            "(exec 3</dev/pmem0; exec sleep 900) >/dev/null 2>&1 &\n"
            "echo $! >/run/fx/holder\n" + pmem_read(""),
        ),
        Step(
            "read-pmem",
            f'echo "buffered: $({pmem_read("")})"\n'
            f'echo "direct: $({pmem_read("iflag=direct")})"\n'
            'kill "$(cat /run/fx/holder)"',
            after="share-a.write-pmem",
        ),
        Step("convert", CONVERT, after="share-a.converted"),
        Step("converted", "ndctl list -N"),
        Step("read-dax", dax_python(None), after="share-a.write-dax"),
    ]
    results = guest_lab.run(
        [Guest(a_xml.read_text(), writer), Guest(b_xml.read_text(), reader)], timeout=420
    )
    a, b = results["share-a"], results["share-b"]
    for guest in (a, b):
        assert guest.start_error is None, guest.start_error
        assert '"share":true' in guest.qemu_log  # libvirt maps the backing shared
        assert guest.finished, guest.diagnosis()

    # As pmem: A's write is in B's kernel (O_DIRECT) and in the host file.
    assert a["write-pmem"].exit_code == 0, a["write-pmem"]
    assert a["write-pmem"].stdout == pmem_marker
    assert b["prime"].stdout == ""  # the block was empty before A wrote
    assert b["read-pmem"].stdout.splitlines() == ["buffered: ", f"direct: {pmem_marker}"]
    data = backing.read_bytes()
    assert data[PMEM_OFFSET : PMEM_OFFSET + len(pmem_marker)] == pmem_marker.encode()

    # Both conversions ran and left a devdax namespace of the same size.
    namespace = json.loads(a["namespaces"].stdout)[0]
    assert namespace["mode"] == "raw"
    converted = []
    for guest in (a, b):
        convert = guest["convert"]
        assert convert.exit_code == 0, convert
        assert "Traceback" not in convert.stderr
        assert "namespace0.0 is now in devdax mode" in convert.stdout
        (after,) = json.loads(guest["converted"].stdout)
        assert (after["mode"], after["chardev"], after["align"]) == ("devdax", "dax0.0", 2 * MiB)
        converted.append(after)
    assert converted[0]["size"] == converted[1]["size"]
    # Each conversion wrote its info block at the start of the shared namespace; the file
    # keeps B's, the later one (A runs on the copy its kernel read).
    data = backing.read_bytes()
    assert data.count(uuid.UUID(converted[1]["uuid"]).bytes) == 1
    assert data.count(uuid.UUID(converted[0]["uuid"]).bytes) == 0

    # As devdax: A's mmap write is in B's mapping and in the host file, where the dax device
    # starts: after the info block area that ndctl reserved at the namespace's start.
    assert a["write-dax"].exit_code == 0, a["write-dax"]
    assert a["write-dax"].stdout.strip() == dax_marker
    assert b["read-dax"].exit_code == 0, b["read-dax"]
    assert b["read-dax"].stdout.strip() == dax_marker
    data = backing.read_bytes()
    dax_start = namespace["size"] - converted[0]["size"]
    assert data.count(dax_marker.encode()) == 1
    assert data.index(dax_marker.encode()) == dax_start + DAX_OFFSET
    # ndctl's conversions left the pmem marker alone (it lies before the dax device's start)
    assert data[PMEM_OFFSET : PMEM_OFFSET + len(pmem_marker)] == pmem_marker.encode()
