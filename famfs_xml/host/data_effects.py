"""What a mode change does to the data on the device: what is lost, not more and not less.

Measured in a Debian 12 guest (Linux 6.1, ndctl/daxctl 76.1, QEMU's emulated NVDIMM):

- ``ndctl create-namespace --reconfig`` zeroes the first 8 KiB of the namespace; the kernel
  keeps an info block there and, with ``map=dev``, the page metadata after it; the fsdax or
  devdax device starts after both (2 MiB into a 64 MiB namespace, 128 MiB into 8 GiB).
- fsdax <-> devdax with map=dev and 2 MiB alignment (ndctl's defaults) keeps the data start
  where it was: bytes at offset 0 of ``/dev/pmem0`` read back at offset 0 of ``/dev/dax0.0``,
  for label-less and labelled namespaces alike (the uuid changes).
- raw -> fsdax/devdax therefore loses what was at the start of the raw namespace, and
  shows the rest shifted by the data offset.
- system-ram hands the memory to the kernel, which uses it as RAM.
"""

from __future__ import annotations

from famfs_xml.host.sysfs import Namespace

KEEPING_ALIGN = 2 * 1024 * 1024
"""The alignment ndctl gives a new fsdax/devdax namespace on x86 (the guide's 2 MiB)."""

_PMEM_MODES = ("fsdax", "devdax")


def dax_effect(path: str, current: str, wanted: str) -> tuple[bool, str]:
    """``(destroys, what happens to the data)`` for a dax device changing mode."""
    if current == wanted:
        return False, "nothing changes"
    if wanted == "system-ram":
        return True, (
            f"everything on {path} is lost: the kernel takes the memory as RAM and overwrites it"
        )
    if current == "system-ram":
        return True, (
            f"{path} comes back with what the kernel left in the memory: nothing of what it "
            "held before it became system RAM"
        )
    return False, f"keeps the data: only the driver bound to {path} changes"


def future_path(namespace: str, mode: str) -> str:
    """The device a namespace will offer: ``/dev/pmem0.1`` or ``/dev/dax0.1`` for
    namespace0.1 (the kernel names both after the namespace), ``/dev/pmem0`` for
    namespace0.0."""
    region, index = namespace[len("namespace") :].split(".")
    if mode == "devdax":
        return f"/dev/dax{region}.{index}"
    return f"/dev/pmem{region}" if index == "0" else f"/dev/pmem{region}.{index}"


def keeps_data(namespace: Namespace, wanted: str) -> bool:
    """Whether ndctl's reconfiguration leaves the data where the devices see it.

    Only the measured case: fsdax/devdax to fsdax/devdax, the page metadata on the media
    (map=dev) and the 2 MiB alignment a new namespace gets, so the data offset stays.
    """
    return (
        namespace.mode in _PMEM_MODES
        and wanted in _PMEM_MODES
        and namespace.map == "dev"
        and namespace.align == KEEPING_ALIGN
    )


def namespace_effect(namespace: Namespace, wanted: str) -> tuple[bool, str]:
    """``(destroys, what happens to the data)`` for ``ndctl create-namespace --reconfig``."""
    old = namespace.device_path or namespace.name
    new = future_path(namespace.name, wanted)
    if namespace.size == 0:
        return False, f"{namespace.name} is empty: there is no data"
    if keeps_data(namespace, wanted):
        return False, (
            "keeps the data: ndctl rewrites only the namespace's 8 KiB info block (and its "
            f"uuid); what is at offset 0 of {old} is at offset 0 of {new} afterwards"
        )
    if namespace.mode == "raw" or namespace.map == "mem":
        return True, (
            f"the start of {old} is lost: ndctl zeroes the first 8 KiB of the namespace, and "
            "the kernel keeps an info block and the page metadata there (about 1/64 of the "
            f"size, rounded up to 2 MiB); {new} begins after them, so what was at offset 0 of "
            f"{old} is gone and the rest is shifted by that much"
        )
    return True, (
        f"{new} may begin at another offset of the namespace than {old} does (its info block "
        "and page metadata are laid out anew): count its data as lost"
    )
