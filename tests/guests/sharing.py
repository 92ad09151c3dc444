"""The sharing proof's guests and its verdict, for any kernel (``test_sharing.py``).

Two guests from one ``famfs-xml attach`` of a 64 MiB file run at the same time. A writes a
marker through ``/dev/pmem0``; B reads it, and the host's backing file holds it. Then both
convert their namespace to devdax with ``famfs-xml device convert … --yes`` (the guide's
"Test your pmem device" step), A writes a second marker through an mmap of ``/dev/dax0.0``
and B reads it from its own mapping. The famfs-xml and Python steps are forked from one
interpreter per guest (see guestlab's ``Step.famfs_xml``), which saves each the
interpreter's start under TCG. On Linux 7.x A then takes ``dax0.0`` to famfs mode and
back, and B reads the marker once more: the mode change keeps what is on the device.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

from guestlab import (
    DEFAULT_MODULES,
    Guest,
    GuestLab,
    GuestResult,
    Step,
    attach_domains,
    famfs_xml,
    make_backing,
)
from scenarios import (
    CONVERT_ARGS,
    DAX_OFFSET,
    PMEM_OFFSET,
    MiB,
    dax_source,
    pmem_read,
    pmem_write,
)


@dataclass(frozen=True)
class SharingPair:
    """The two guests, and what the verdict needs to know about them."""

    guests: list[Guest]
    backing: Path
    files: tuple[Path, Path]
    token: str
    famfs_mode: bool

    @property
    def names(self) -> tuple[str, str]:
        a, b = (guest.name for guest in self.guests)
        return a, b

    @property
    def pmem_marker(self) -> str:
        return f"famfs-xml pmem marker {self.token}"

    @property
    def dax_marker(self) -> str:
        return f"famfs-xml dax marker {self.token}"


def sharing_pair(
    lab: GuestLab, workdir: Path, prefix: str = "share", *, famfs_mode: bool = False
) -> SharingPair:
    """``PREFIX-a`` and ``PREFIX-b``, attached to one new backing file in ``workdir``; with
    ``famfs_mode`` (a Linux 7.x lab with fsdev_dax), A also goes to famfs mode and back."""
    token = secrets.token_hex(4)
    pmem_marker, dax_marker = f"famfs-xml pmem marker {token}", f"famfs-xml dax marker {token}"
    backing = make_backing(workdir / f"{prefix}-backing", 64)
    a, b = f"{prefix}-a", f"{prefix}-b"
    modules = {"modules": (*DEFAULT_MODULES, "fsdev_dax")} if famfs_mode else {}
    a_xml, b_xml = attach_domains(lab, workdir, backing, [a, b], **modules)
    writer = [
        Step("namespaces", "ndctl list -N"),
        # B has read the block (and keeps the device open) before A writes it
        Step("write-pmem", pmem_write(pmem_marker), after=f"{b}.prime"),
        Step.famfs_xml("convert", *CONVERT_ARGS, after=f"{b}.read-pmem"),
        Step("converted", "ndctl list -N"),
        Step.python("write-dax", dax_source(dax_marker), after=f"{b}.converted"),
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
            after=f"{a}.write-pmem",
        ),
        Step.famfs_xml("convert", *CONVERT_ARGS, after=f"{a}.converted"),
        Step("converted", "ndctl list -N"),
        Step.python("read-dax", dax_source(None), after=f"{a}.write-dax"),
    ]
    if famfs_mode:
        to_famfs = ("device", "convert", "dax0.0", "--mode", "famfs", "--yes")
        writer += [
            Step.famfs_xml("to-famfs", *to_famfs, after=f"{b}.read-dax"),
            Step.famfs_xml("back-to-devdax", *to_famfs[:4], "devdax", "--yes"),
        ]
        reader.append(Step.python("read-dax-again", dax_source(None), after=f"{a}.back-to-devdax"))
    guests = [Guest(a_xml.read_text(), writer, lab=lab), Guest(b_xml.read_text(), reader, lab=lab)]
    return SharingPair(guests, backing, (a_xml, b_xml), token, famfs_mode)


def lint_clean(pair: SharingPair) -> None:
    """What attach writes lints clean, the two files together."""
    lint = famfs_xml("lint", *map(str, pair.files))
    assert lint.returncode == 0, lint.stdout + lint.stderr


def assert_shared(pair: SharingPair, results: dict[str, GuestResult]) -> None:
    """The verdict of the sharing proof (see the module)."""
    a, b = (results[name] for name in pair.names)
    for guest in (a, b):
        assert guest.start_error is None, guest.start_error
        assert '"share":true' in guest.qemu_log  # libvirt maps the backing shared
        assert guest.finished, guest.diagnosis()

    # As pmem: A's write is in B's kernel (O_DIRECT) and in the host file.
    assert a["write-pmem"].exit_code == 0, a["write-pmem"]
    assert a["write-pmem"].stdout == pair.pmem_marker
    assert b["prime"].stdout == ""  # the block was empty before A wrote
    assert b["read-pmem"].stdout.splitlines() == ["buffered: ", f"direct: {pair.pmem_marker}"]
    data = pair.backing.read_bytes()
    assert data[PMEM_OFFSET : PMEM_OFFSET + len(pair.pmem_marker)] == pair.pmem_marker.encode()

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
    data = pair.backing.read_bytes()
    assert data.count(uuid.UUID(converted[1]["uuid"]).bytes) == 1
    assert data.count(uuid.UUID(converted[0]["uuid"]).bytes) == 0

    # As devdax: A's mmap write is in B's mapping and in the host file, where the dax device
    # starts: after the info block area that ndctl reserved at the namespace's start.
    assert a["write-dax"].exit_code == 0, a["write-dax"]
    assert a["write-dax"].stdout.strip() == pair.dax_marker
    assert b["read-dax"].exit_code == 0, b["read-dax"]
    assert b["read-dax"].stdout.strip() == pair.dax_marker
    data = pair.backing.read_bytes()
    dax_start = namespace["size"] - converted[0]["size"]
    assert data.count(pair.dax_marker.encode()) == 1
    assert data.index(pair.dax_marker.encode()) == dax_start + DAX_OFFSET
    # ndctl's conversions left the pmem marker alone (it lies before the dax device's start)
    assert data[PMEM_OFFSET : PMEM_OFFSET + len(pair.pmem_marker)] == pair.pmem_marker.encode()

    if pair.famfs_mode:
        assert "dax0.0 is now in famfs mode" in a["to-famfs"].stdout, a["to-famfs"]
        assert "dax0.0 is now in devdax mode" in a["back-to-devdax"].stdout, a["back-to-devdax"]
        assert b["read-dax-again"].stdout.strip() == pair.dax_marker
