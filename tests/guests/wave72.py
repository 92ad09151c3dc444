"""The Linux 7.2 wave: every guest of the 7.2 tests, booted together once per session.

Debian sid's Linux 7.2.13 (``fsdev_dax``, the driver of famfs mode) runs in the Debian sid
root (ndctl/daxctl 85, Python 3.14) or in the host's root (ndctl/daxctl 76.1); one Linux 6.1
guest joins, for the ``memmap=`` forms measured on both kernels. Every ``famfs-xml`` call is
a :meth:`Step.famfs_xml` step, and the ndctl/daxctl calls inside are traced.

- ``k72-famfs`` (sid root): 256 MiB nvdimm, no label (a 250 MiB dax device that holds one
  whole 128 MiB memory block). The guide's raw -> devdax, then devdax <-> famfs with daxctl
  85, system-ram <-> famfs through devdax, the refusals (mapped, mounted, a famfs superblock
  before system-ram), a device left in famfs mode.
- ``k72-sysfs`` (host root, daxctl 76.1): 256 MiB nvdimm with the guide's 16 MiB label.
  devdax <-> famfs through sysfs, and what daxctl 76.1 itself does instead.
- ``k72-memmap`` (sid root, no ``fsdev_dax``, 512 MiB): ``memmap=`` as pmem (``!``), as
  reserved (``$``, also through the guide's grub variable) and as soft-reserved (``%``) in
  a range too small for kmem and in a whole memory block; host check, and the conversions:
  the soft-reserved devices to devdax, the legacy namespace to devdax and on to fsdax.
- ``k61-memmap`` (Linux 6.1, host root): the same command line on the older kernel.
- ``share72-a``, ``share72-b`` (sid root): the sharing proof (``sharing.py``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from device_guests import (
    AUTO_ONLINE,
    GUEST_ROOT,
    MAKE_GUEST_ROOT,
    MARKER,
    TRACED,
    convert,
    dax_read,
    host_check,
    label_less,
    listing,
    pmem_read,
)
from guestlab import (
    DEFAULT_MODULES,
    Guest,
    GuestLab,
    GuestResult,
    Step,
    attach_domains,
    make_backing,
)
from sharing import SharingPair, sharing_pair

F = Step.famfs_xml
FSDEV = (*DEFAULT_MODULES, "fsdev_dax")
HMEM = (*DEFAULT_MODULES, "dax_hmem")
FAMFS_MAGIC = 0x87B282FF
MEMMAP = "memmap=32M!96M memmap=32M$144M memmap=32M%192M+0xefffffff memmap=128M%256M+0xefffffff"
# the guide's grub macro for the "$" range: GRUB_CMDLINE_LINUX names a grub variable, and
# grub2-editenv stored its value (with the backslash the guide's shell quoting leaves)
GRUB_DEFAULTS = (
    'GRUB_CMDLINE_LINUX="memmap=32M!96M memmap=\\$memmap_val memmap=32M%192M+0xefffffff'
    ' memmap=128M%256M+0xefffffff"\n'
)
GRUBENV = "# GRUB Environment Block\nmemmap_val=32M\\$144M\n"


def dax_write(name: str, data: bytes, device: str = "/dev/dax0.0") -> Step:
    """Map the first 2 MiB of ``device`` and write ``data`` at offset 0."""
    source = (
        "import mmap, os\n"
        f"fd = os.open({device!r}, os.O_RDWR)\n"
        "m = mmap.mmap(fd, 2 << 20, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)\n"
        f"m[:{len(data)}] = {data!r}\n"
    )
    return Step.python(name, source)


MAP_IN_FAMFS_MODE = Step.python(
    "map-famfs",
    "import mmap, os\n"
    "fd = os.open('/dev/dax0.0', os.O_RDONLY)\n"
    "try:\n"
    "    mmap.mmap(fd, 2 << 20, mmap.MAP_SHARED, mmap.PROT_READ)\n"
    "except OSError as exc:\n"
    "    print(exc.strerror)\n",
)

# a process that keeps the first 2 MiB of /dev/dax0.0 mapped, as QEMU keeps its backing
HOLD = (
    '"$PYTHON" -c "import mmap, os, time\n'
    "m = mmap.mmap(os.open('/dev/dax0.0', os.O_RDONLY), 2 << 20, mmap.MAP_SHARED, mmap.PROT_READ)\n"
    "open('/run/fx/mapped', 'w').close()\n"
    'time.sleep(900)" >/dev/null 2>&1 &\n'
    "echo $! >/run/fx/holder\n"
    "n=0; while [ ! -e /run/fx/mapped ] && [ $n -lt 600 ]; do n=$((n + 1)); sleep 0.1; done\n"
    "[ -e /run/fx/mapped ]"
)
# a mount whose source is the device, as famfs's FUSE mount names it (Linux 7.2 has no
# famfs file system to mount for real)
MOUNT = "mkdir -p /run/fx/famfs && mount -t tmpfs -o size=1m /dev/dax0.0 /run/fx/famfs"


def famfs_steps() -> list[Step]:
    return [
        Step("auto-offline", f"echo offline >{AUTO_ONLINE}"),  # memhp_default_state=offline
        *listing("raw"),
        convert("convert-devdax", "namespace0.0", "devdax", "--yes"),
        *listing("devdax"),
        dax_write("mark", MARKER.encode()),
        Step("hold", HOLD),
        convert("convert-mapped", "dax0.0", "famfs", "--yes"),
        Step("release", 'kill "$(cat /run/fx/holder)"; sleep 1'),
        convert("plan-famfs", "dax0.0", "famfs", "--json"),
        convert("convert-famfs", "dax0.0", "famfs", "--yes"),
        *listing("famfs"),
        F("table-famfs", "devices"),
        MAP_IN_FAMFS_MODE,
        Step("guest-root", MAKE_GUEST_ROOT),
        host_check("check-famfs"),
        Step("mount", MOUNT),
        convert("convert-mounted", "dax0.0", "devdax", "--yes"),
        host_check("check-mounted"),
        Step("umount", "umount /run/fx/famfs"),
        convert("convert-back", "dax0.0", "devdax", "--yes"),
        dax_read("read-back"),
        convert("convert-system-ram", "dax0.0", "system-ram", "--yes"),
        *listing("system-ram"),
        Step("daxctl-ram-to-famfs", "daxctl reconfigure-device --mode=famfs -f dax0.0"),
        convert("convert-ram-to-famfs", "dax0.0", "famfs", "--yes", "--force"),
        *listing("famfs-again"),
        convert("convert-devdax-again", "dax0.0", "devdax", "--yes"),
        dax_write("superblock", FAMFS_MAGIC.to_bytes(8, "little")),
        convert("convert-famfs-superblock", "dax0.0", "famfs", "--yes"),
        convert("convert-famfs-to-ram", "dax0.0", "system-ram", "--yes"),
        *listing("stopped"),
        convert("convert-famfs-to-ram-forced", "dax0.0", "system-ram", "--yes", "--force"),
    ]


def sysfs_steps() -> list[Step]:
    return [
        *listing("raw"),
        convert("convert-devdax", "namespace0.0", "devdax", "--yes"),
        *listing("devdax"),
        dax_write("mark", MARKER.encode()),
        convert("plan-famfs", "dax0.0", "famfs"),
        Step("daxctl76-famfs", "daxctl reconfigure-device --mode=famfs dax0.0"),
        convert("convert-famfs", "dax0.0", "famfs", "--yes"),
        *listing("famfs"),
        Step(
            "daxctl76-devdax",
            "daxctl reconfigure-device --mode=devdax dax0.0 && "
            "basename $(readlink /sys/bus/dax/devices/dax0.0/driver)",
        ),
        convert("convert-back", "dax0.0", "devdax", "--yes"),
        dax_read("read-back"),
        *listing("back"),
    ]


def _grub_files() -> str:
    return (
        f"mkdir -p {GUEST_ROOT}/etc/default {GUEST_ROOT}/boot/grub2"
        f" && printf %s {shlex.quote(GRUB_DEFAULTS)} >{GUEST_ROOT}/etc/default/grub"
        f" && printf %s {shlex.quote(GRUBENV)} >{GUEST_ROOT}/boot/grub2/grubenv"
    )


def memmap_steps(small: str, whole: str, region: int) -> list[Step]:
    """``small``/``whole``: the dax devices of the 32 MiB and of the 128 MiB soft-reserved
    range, ``region`` the legacy pmem's (the numbers differ between 6.1 and 7.2: source, the
    guests). The legacy namespace goes to devdax and on to fsdax, with a marker across."""
    namespace, pmem = f"namespace{region}.0", f"/dev/pmem{region}"
    return [
        *listing("memmap"),
        Step("iomem", "grep -v '^ ' /proc/iomem"),
        Step("guest-root", f"{MAKE_GUEST_ROOT} && {_grub_files()}"),
        host_check("check"),
        convert("convert-small", small, "devdax", "--yes"),
        convert("convert-whole", whole, "devdax", "--yes", "--force"),
        convert("convert-famfs", small, "famfs", "--yes", "--force"),
        convert("convert-legacy", namespace, "devdax", "--yes"),
        dax_write("mark", MARKER.encode(), f"/dev/dax{region}.0"),
        convert("convert-fsdax", namespace, "fsdax", "--yes"),
        Step("read-fsdax", pmem_read(pmem)),
        *listing("converted"),
        host_check("check-converted"),
    ]


SMALL_72, WHOLE_72 = "dax1.0", "dax2.0"  # Linux 7.2 numbers them after the pmem region 0
SMALL_61, WHOLE_61 = "dax0.0", "dax1.0"  # Linux 6.1 puts the pmem region after them
LEGACY_72, LEGACY_61 = 0, 2


@dataclass(frozen=True)
class Wave72:
    results: dict[str, GuestResult]
    sharing: SharingPair


def nvdimm_guest(
    lab: GuestLab, directory: Path, name: str, steps: list[Step], *, labelled: bool
) -> Guest:
    backing = make_backing(directory / f"{name}.img", 256)
    (path,) = attach_domains(lab, directory, backing, [name], modules=FSDEV)
    xml = path.read_text()
    return Guest(xml if labelled else label_less(xml), steps, trace=TRACED, lab=lab)


def boot_wave72(host61: GuestLab, sid: GuestLab, host72: GuestLab, directory: Path) -> Wave72:
    sharing = sharing_pair(sid, directory, "share72", famfs_mode=True)
    memmap = {"cmdline": MEMMAP, "memory_mib": 512, "modules": HMEM}
    guests = [
        nvdimm_guest(sid, directory, "k72-famfs", famfs_steps(), labelled=False),
        nvdimm_guest(host72, directory, "k72-sysfs", sysfs_steps(), labelled=True),
        Guest(
            sid.base_domain("k72-memmap", **memmap),
            memmap_steps(SMALL_72, WHOLE_72, LEGACY_72),
            TRACED,
            lab=sid,
        ),
        Guest(
            host61.base_domain("k61-memmap", **memmap),
            memmap_steps(SMALL_61, WHOLE_61, LEGACY_61),
            TRACED,
            lab=host61,
        ),
        *sharing.guests,
    ]
    return Wave72(host61.run(guests, timeout=600), sharing)
