"""Shell commands the guest tests run inside guests: markers through /dev/pmem0 and
/dev/dax0.0, and the guide's conversion to devdax."""

from __future__ import annotations

MiB = 1024 * 1024

PMEM_OFFSET = 1 * MiB  # where the pmem marker goes, in the namespace (= in the backing file)
DAX_OFFSET = 0x1000  # where the dax marker goes, in /dev/dax0.0


def pmem_write(marker: str, offset: int = PMEM_OFFSET) -> str:
    """Write ``marker`` (NUL-padded to 4 KiB, O_DIRECT) at ``offset`` of /dev/pmem0, then
    print that block as this guest reads it back."""
    return (
        f"printf %s '{marker}' | dd of=/dev/pmem0 bs=4096 seek={offset // 4096}"
        " conv=sync,notrunc oflag=direct status=none\n" + pmem_read("iflag=direct", offset)
    )


def pmem_read(flags: str, offset: int = PMEM_OFFSET) -> str:
    """Print the 4 KiB block at ``offset`` of /dev/pmem0 without its NULs (``flags``: dd's
    ``iflag=direct`` to bypass this guest's page cache, or nothing)."""
    return (
        f"dd if=/dev/pmem0 bs=4096 skip={offset // 4096} count=1 {flags} status=none"
        " | tr -d '\\000'"
    )


def dax_source(marker: str | None) -> str:
    """Python that maps the first 2 MiB of /dev/dax0.0 (device-dax maps in units of its
    alignment), writes ``marker`` at :data:`DAX_OFFSET` when given, and prints what is there."""
    write = (
        f"m[{DAX_OFFSET}:{DAX_OFFSET} + {len(marker)}] = {marker.encode()!r}\n" if marker else ""
    )
    flags = "os.O_RDWR" if marker else "os.O_RDONLY"
    prot = "mmap.PROT_READ | mmap.PROT_WRITE" if marker else "mmap.PROT_READ"
    return (
        "import mmap, os\n"
        f"fd = os.open('/dev/dax0.0', {flags})\n"
        f"m = mmap.mmap(fd, 2 << 20, mmap.MAP_SHARED, {prot})\n"
        f"{write}"
        f"print(bytes(m[{DAX_OFFSET}:{DAX_OFFSET} + 64]).rstrip(b'\\0').decode())\n"
    )


CONVERT_ARGS = ("device", "convert", "namespace0.0", "--mode", "devdax", "--yes")
