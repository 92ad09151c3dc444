"""What stores an nvdimm's memory, decided from what is known and never guessed.

A rule that words or weighs a finding by the backing asks :func:`backing_kind`. The answer
comes from the device facts (``--host``, ``--inventory``) when they know the path, else from
a name only a device has (``/dev/daxX.Y``, ``/dev/pmemN``), else it is ``UNKNOWN``: a file
in ``/dev/shm`` is no dax device, and a path outside ``/dev`` may still be a symlink to one.
"""

from __future__ import annotations

import enum
import re
from typing import TYPE_CHECKING

from famfs_xml.lint.checks.base import RuleContext
from famfs_xml.lint.domain import MemoryDevice

if TYPE_CHECKING:
    from famfs_xml.core.inventory import BackingDevice

# compiled on first use: only a domain with a backing path needs them
_DAX_NAME = r"/dev/dax\d+\.\d+"
_PMEM_NAME = r"/dev/pmem\d+(?:\.\d+)?s?"


class BackingKind(enum.Enum):
    DAX = "dax"  # a device-dax character device
    PMEM = "pmem"  # a pmem block device (an fsdax or raw namespace)
    FILE = "file"  # a regular file, as --host or an inventory found it
    UNKNOWN = "unknown"

    @property
    def is_device(self) -> bool:
        """Persistent memory that QEMU maps directly: the famfs recipe's case."""
        return self in (BackingKind.DAX, BackingKind.PMEM)


def backing_facts(ctx: RuleContext, device: MemoryDevice) -> BackingDevice | None:
    """The device facts of the nvdimm's path, when a source of facts knows it."""
    if ctx.facts is None or not device.path:
        return None
    return ctx.facts.lookup(device.path)


def backing_kind(ctx: RuleContext, device: MemoryDevice) -> BackingKind:
    facts = backing_facts(ctx, device)
    if facts is not None and facts.exists:
        if facts.kind in ("dax", "pmem"):
            return BackingKind(facts.kind)
        if facts.kind == "file" and facts.size is not None:  # stat found a regular file
            return BackingKind.FILE
    path = device.path or ""
    if re.fullmatch(_DAX_NAME, path):
        return BackingKind.DAX
    if re.fullmatch(_PMEM_NAME, path):
        return BackingKind.PMEM
    return BackingKind.UNKNOWN


def describe(kind: BackingKind, path: str) -> str:
    """The backing as a message names it: "the dax device /dev/dax1.0"."""
    if kind is BackingKind.UNKNOWN:
        return path
    what = {BackingKind.DAX: "dax device", BackingKind.PMEM: "pmem device"}
    return f"the {what.get(kind, 'regular file')} {path}"


def unknown_note(kind: BackingKind, path: str) -> str:
    """What a message adds when the kind is not known, and how to make it known."""
    if kind is not BackingKind.UNKNOWN:
        return ""
    return f" (the kind of {path} is unknown: lint with --host or --inventory to check it)"
