"""A fake machine under a directory, laid out like the real sysfs/procfs.

Used by the tests and by the fake ``daxctl``/``ndctl`` programs, which change the same tree.

The layout of pmem namespaces replays what a Debian 12 guest (kernel 6.1.0-56, ndctl/daxctl
76.1, QEMU 7.2 ``-device nvdimm``) showed in sysfs; ``tests/devices/guest-recordings.md`` has
the recordings. In short (source: the guest):

- a raw namespace has ``driver -> nd_pmem``, an empty ``holder`` and ``block/pmemN`` itself;
- fsdax/devdax hand the namespace to a claim device next to it (``pfnR.K`` / ``daxR.K``, K
  counting up from 0): the namespace then has no ``driver`` link and ``holder`` names the
  claim, which is bound (``nd_pmem`` / ``dax_pmem``) and holds ``block/pmemN`` or the dax
  device, whose name follows the namespace (``namespace0.1`` -> ``dax0.1``);
- the fsdax/devdax device starts after an info block and the page metadata: 2 MiB of a 64 MiB
  namespace (62 MiB left), 6 MiB of 256 MiB, 128 MiB of 8 GiB - 16 MiB;
- the second labelled namespace's block device is ``pmem0.1``; a labelled region always has
  an empty seed namespace of size 0 with no driver;
- a disabled namespace (``memmap=31M!161M``: "misaligned, unable to map") keeps its mode and
  size but has no driver, no holder and no block device.

``fsdev=True`` makes a Linux 7.x machine: the dax bus has the ``fsdev_dax`` driver of famfs
mode as well (Debian sid's Linux 7.2.13 guests). :meth:`FakeMachine.write_sysfs` is its
kernel for writes to the dax drivers' ``bind``, ``unbind``, ``new_id`` and ``remove_id``, as
the 7.2 guests answered them.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

GiB = 1024**3
MiB = 1024**2
KiB = 1024
FAMFS_MAGIC = 0x87B282FF
DRIVERS = {"devdax": "device_dax", "system-ram": "kmem", "famfs": "fsdev_dax"}
ND_DRIVERS = ("nd_pmem", "dax_pmem", "nd_btt")
NS_MODE_ATTR = {"fsdax": "memory", "devdax": "dax", "sector": "safe", "raw": "raw"}
NS_ATTR_MODE = {value: key for key, value in NS_MODE_ATTR.items()}
NFIT_BUS = "devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0012:00/ndbus0"
E820_BUS = "devices/platform/e820_pmem/ndbus0"
NFIT_START = 0x100000000  # QEMU puts the first nvdimm at 4 GiB (source: the guest)
DEVICE_ALIGN = 2 * MiB


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def relink(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` with a relative link, as sysfs does."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    link.symlink_to(os.path.relpath(target.resolve(), link.parent.resolve()))


def data_offset(size: int, align: int = DEVICE_ALIGN) -> int:
    """Where an fsdax/devdax device starts inside its namespace (map=dev).

    8 KiB of info block plus 64 bytes of page metadata per 4 KiB page, rounded up to the
    alignment: this gives every size the guest showed (64 MiB -> 2 MiB, 256 MiB -> 6 MiB,
    16 MiB -> 2 MiB) and the famfs guide's 8 GiB - 16 MiB -> 128 MiB.
    """
    used = 8 * KiB + size // 4096 * 64
    return -(-used // align) * align


def namespace_ids(name: str) -> tuple[int, int]:
    region, index = name[len("namespace") :].split(".")
    return int(region), int(index)


def blockdev_name(namespace: str) -> str:
    """``pmem0`` for namespace0.0, ``pmem0.1`` for namespace0.1 (source: the guest)."""
    region, index = namespace_ids(namespace)
    return f"pmem{region}" if index == 0 else f"pmem{region}.{index}"


class FakeMachine:
    def __init__(self, root: Path, *, fsdev: bool = False) -> None:
        self.root = root
        self.sys = root / "sys"
        for driver in DRIVERS.values():
            if driver != "fsdev_dax" or fsdev:
                (self.sys / "bus/dax/drivers" / driver).mkdir(parents=True, exist_ok=True)
        for driver in ND_DRIVERS:
            (self.sys / "bus/nd/drivers" / driver).mkdir(parents=True, exist_ok=True)
        (self.sys / "bus/dax/devices").mkdir(parents=True, exist_ok=True)
        (self.sys / "bus/nd/devices").mkdir(parents=True, exist_ok=True)
        if not (self.sys / "devices/system/memory/block_size_bytes").exists():
            self.set_block_size()  # every x86 kernel has one: 128 MiB (source: the guest)
        (root / "proc").mkdir(exist_ok=True)
        if not (root / "proc/mounts").exists():
            write(root / "proc/mounts", "proc /proc proc rw 0 0\n")

    # --- dax devices -----------------------------------------------------------------

    def add_dax(
        self,
        name: str = "dax0.0",
        *,
        size: int = 8 * GiB,
        align: int = 2 * MiB,
        mode: str | None = "devdax",
        target_node: int = 0,
        resource: int = 0x240000000,
        parent: Path | None = None,
    ) -> Path:
        parent = parent or self.sys / "devices/platform" / f"hmem.{name[3:].split('.')[0]}"
        write(parent / "dax_region/id", name[3:].split(".")[0] + "\n")
        device = parent / name
        write(device / "size", f"{size}\n")
        write(device / "align", f"{align}\n")
        if target_node >= 0:  # a device with no node has no target_node (source: the guest)
            write(device / "target_node", f"{target_node}\n")
        write(device / "resource", f"{resource:#x}\n")
        write(device / "mapping0/start", f"{resource:#x}\n")
        write(device / "mapping0/end", f"{resource + size - 1:#x}\n")
        write(device / "mapping0/page_offset", "0x0\n")
        relink(self.sys / "bus/dax/devices" / name, device)
        self.set_dax_mode(name, mode)
        return device

    def set_dax_mode(self, name: str, mode: str | None) -> None:
        link = self.sys / "bus/dax/devices" / name / "driver"
        if link.is_symlink():
            link.unlink()
        if mode is not None:
            driver = self.sys / "bus/dax/drivers" / DRIVERS[mode]
            driver.mkdir(parents=True, exist_ok=True)  # a device bound to it: it is loaded
            relink(link, driver)

    # --- the dax bus's driver attributes (Linux 7.2) ---------------------------------

    def _ids(self) -> dict[str, list[str]]:
        path = self.root / ".dax-driver-ids.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _save_ids(self, ids: dict[str, list[str]]) -> None:
        (self.root / ".dax-driver-ids.json").write_text(json.dumps(ids))

    def write_sysfs(self, path: Path, value: str) -> None:
        """A write to ``/sys/bus/dax/drivers/DRIVER/ATTRIBUTE``, as the kernel answers it.

        In the 7.2 guests: ``unbind`` releases the device; ``bind`` to ``device_dax`` works
        (it matches every device that is not soft-reserved), to another driver only when the
        name is in that driver's ids (else EIO, "I/O error"); ``new_id`` adds the name and
        binds an unbound device at once; ``remove_id`` drops it.
        """
        attribute, driver, name = path.name, path.parent.name, value.strip()
        if path.parent.parent != self.sys / "bus/dax/drivers" or not path.parent.is_dir():
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        modes = {v: k for k, v in DRIVERS.items()}
        bound = self.dax_mode(name)
        ids = self._ids()
        if attribute == "unbind":
            if bound is None or DRIVERS[bound] != driver:
                raise OSError(errno.ENODEV, os.strerror(errno.ENODEV), str(path))
            self.set_dax_mode(name, None)
        elif attribute == "remove_id":
            ids[driver] = [n for n in ids.get(driver, []) if n != name]
            self._save_ids(ids)
        elif attribute == "new_id":
            if name in ids.get(driver, []):
                raise OSError(errno.EEXIST, os.strerror(errno.EEXIST), str(path))
            ids.setdefault(driver, []).append(name)
            self._save_ids(ids)
            if bound is None:
                self.set_dax_mode(name, modes[driver])
        elif attribute == "bind":
            if bound is not None:
                raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), str(path))
            if driver != "device_dax" and name not in ids.get(driver, []):
                raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))
            self.set_dax_mode(name, modes[driver])
        else:
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))

    def dax_mode(self, name: str) -> str | None:
        link = self.sys / "bus/dax/devices" / name / "driver"
        if not link.is_symlink():
            return None
        driver = os.path.basename(os.readlink(link))
        return {v: k for k, v in DRIVERS.items()}[driver]

    def write_dev(self, path: str, magic: int | None = None, size: int = 4 * MiB) -> Path:
        """A stand-in for a device node: a file, with a famfs superblock if ``magic``."""
        data = bytearray(size)
        if magic is not None:
            data[:8] = magic.to_bytes(8, "little")
        node = self.root / path.lstrip("/")
        node.parent.mkdir(parents=True, exist_ok=True)
        node.write_bytes(bytes(data))
        return node

    # --- pmem namespaces -------------------------------------------------------------

    def region_dir(self, region: int = 0, legacy: bool = False) -> Path:
        return self.sys / (E820_BUS if legacy else NFIT_BUS) / f"region{region}"

    def namespace_dir(self, name: str) -> Path:
        return (self.sys / "bus/nd/devices" / name).resolve()

    def add_namespace(
        self,
        name: str = "namespace0.0",
        *,
        mode: str = "raw",
        size: int = 8573157376,
        numa_node: int = 0,
        resource: int | None = None,
        labelled: bool = False,
        legacy: bool = False,
    ) -> Path:
        """An enabled namespace: ``labelled`` as after ``ndctl init-labels``, ``legacy`` from
        ``memmap=nn!ss`` (fsdax with map=mem: the namespace drives its block device itself).
        """
        ns_dir = self._namespace_attrs(name, mode, size, numa_node, resource, labelled, legacy)
        if legacy:
            self._bind(ns_dir, "nd_pmem")
            self._block(ns_dir / "block" / blockdev_name(name), size)
        else:
            self.set_namespace_mode(name, mode)
        return ns_dir

    def add_disabled_namespace(
        self,
        name: str = "namespace0.0",
        *,
        mode: str = "fsdax",
        size: int = 31 * MiB,
        resource: int | None = 161 * MiB,
        labelled: bool = False,
        legacy: bool = True,
    ) -> Path:
        """A namespace no driver took: by default ``memmap=31M!161M`` (source: the guest)."""
        return self._namespace_attrs(name, mode, size, 0, resource, labelled, legacy)

    def add_seed_namespace(self, name: str = "namespace0.1") -> Path:
        """The empty namespace a labelled region offers for the next create-namespace.

        Size 0, mode raw, no driver; reading its ``resource`` fails with ENXIO, so the fake
        has none (source: the guest after ``ndctl init-labels``).
        """
        ns_dir = self._namespace_attrs(name, "raw", 0, 0, None, True, False)
        (ns_dir / "resource").unlink()
        return ns_dir

    def add_labelled_region(self, count: int = 2) -> None:
        """``label-size=16M``, ``ndctl init-labels``, then ``count`` times ``ndctl
        create-namespace -m fsdax -s 16M``: namespace0.0 (/dev/pmem0), namespace0.1
        (/dev/pmem0.1), ... and the next empty seed (source: the guest)."""
        for index in range(count):
            self.add_namespace(f"namespace0.{index}", mode="fsdax", size=16 * MiB, labelled=True)
        self.add_seed_namespace(f"namespace0.{count}")

    def _namespace_attrs(
        self,
        name: str,
        mode: str,
        size: int,
        numa_node: int,
        resource: int | None,
        labelled: bool,
        legacy: bool,
    ) -> Path:
        region, index = namespace_ids(name)
        ns_dir = self.region_dir(region, legacy) / name
        if resource is None:
            resource = NFIT_START + region * 64 * GiB + index * size
        write(ns_dir / "size", f"{size}\n")
        write(ns_dir / "numa_node", f"{numa_node}\n")
        write(ns_dir / "target_node", f"{numa_node}\n")
        write(ns_dir / "resource", f"{resource:#x}\n")
        write(ns_dir / "nstype", "5\n" if labelled else "4\n")
        write(ns_dir / "force_raw", "0\n")
        write(ns_dir / "holder", "\n")
        write(ns_dir / "mode", NS_MODE_ATTR[mode] + "\n")
        if labelled:
            write(ns_dir / "uuid", "\n" if size == 0 else "a47d565d-94fb-4424-b3c5-f1e4a8ccae3a\n")
            write(ns_dir / "alt_name", "\n")
            write(ns_dir / "sector_size", "512\n")
        write(self.region_dir(region, legacy) / "align", f"{16 * MiB}\n")
        relink(self.sys / "bus/nd/devices" / name, ns_dir)
        return ns_dir

    def set_namespace_mode(self, name: str, mode: str) -> None:
        """What ``ndctl create-namespace --reconfig`` leaves: the new claim, bound."""
        ns_dir = self.namespace_dir(name)
        self._release(ns_dir)
        write(ns_dir / "mode", NS_MODE_ATTR[mode] + "\n")
        size = int((ns_dir / "size").read_text())
        start = int((ns_dir / "resource").read_text(), 16)
        offset = data_offset(size)
        region, index = namespace_ids(name)
        if mode in ("raw", "sector"):
            self._bind(ns_dir, "nd_pmem")
            self._block(ns_dir / "block" / blockdev_name(name), size)
            return
        kind = "pfn" if mode == "fsdax" else "dax"
        claim = self._claim(ns_dir, kind, name, start + offset, size - offset)
        if mode == "fsdax":
            self._bind(claim, "nd_pmem")
            self._block(claim / "block" / blockdev_name(name), size - offset)
        else:
            self._bind(claim, "dax_pmem")
            self.add_dax(
                f"dax{region}.{index}",
                size=size - offset,
                resource=start + offset,
                parent=claim,
                target_node=int((ns_dir / "target_node").read_text()),
            )

    def _claim(self, ns_dir: Path, kind: str, name: str, start: int, size: int) -> Path:
        region_dir = ns_dir.parent
        region = region_dir.name[len("region") :]
        used = [int(p.name.split(".")[1]) for p in region_dir.glob(f"{kind}{region}.*")]
        claim = region_dir / f"{kind}{region}.{max(used, default=-1) + 1}"
        write(claim / "namespace", f"{name}\n")
        write(claim / "align", f"{DEVICE_ALIGN}\n")
        write(claim / "mode", "pmem\n")  # map=dev
        write(claim / "size", f"{size}\n")
        write(claim / "resource", f"{start:#x}\n")
        relink(self.sys / "bus/nd/devices" / claim.name, claim)
        write(ns_dir / "holder", f"{claim.name}\n")
        return claim

    def _release(self, ns_dir: Path) -> None:
        """Undo the namespace's current mode: unbind it, drop its claim and devices."""
        driver = ns_dir / "driver"
        if driver.is_symlink():
            driver.unlink()
        if (ns_dir / "block").is_dir():
            self._drop_block(ns_dir / "block")
        holder = (ns_dir / "holder").read_text().strip()
        if holder:
            claim = ns_dir.parent / holder
            for dax in claim.glob("dax*.*"):
                (self.sys / "bus/dax/devices" / dax.name).unlink(missing_ok=True)
            if (claim / "block").is_dir():
                self._drop_block(claim / "block")
            (self.sys / "bus/nd/devices" / holder).unlink(missing_ok=True)
            _rmtree(claim)
        write(ns_dir / "holder", "\n")

    def _drop_block(self, block_dir: Path) -> None:
        for disk in block_dir.iterdir():
            (self.sys / "block" / disk.name).unlink(missing_ok=True)
        _rmtree(block_dir)

    def _bind(self, device_dir: Path, driver: str) -> None:
        relink(device_dir / "driver", self.sys / "bus/nd/drivers" / driver)

    def _block(self, block_dir: Path, size: int) -> None:
        write(block_dir / "size", f"{size // 512}\n")
        (block_dir / "holders").mkdir(parents=True, exist_ok=True)
        relink(self.sys / "block" / block_dir.name, block_dir)

    def namespace_mode(self, name: str) -> str:
        return NS_ATTR_MODE[(self.sys / "bus/nd/devices" / name / "mode").read_text().strip()]

    # --- memory, firmware, boot ------------------------------------------------------

    def set_memory_blocks(
        self,
        start: int,
        size: int,
        state: str,
        block_size: int = 128 * MiB,
        zone: str | None = None,
    ) -> None:
        """Memory blocks; ``zone`` is the ``valid_zones`` of online ones: daxctl onlines a
        dax device's memory ``Movable``, a kernel that onlines it by itself (Linux 7.2's
        default) ``Normal`` (source: the 7.2 guests)."""
        memory = self.sys / "devices/system/memory"
        write(memory / "block_size_bytes", f"{block_size:x}\n")
        for index in range(start // block_size, (start + size) // block_size):
            write(memory / f"memory{index}/state", state + "\n")
            if zone is not None:
                write(memory / f"memory{index}/valid_zones", zone + "\n")

    def set_block_size(self, block_size: int = 128 * MiB) -> None:
        """``block_size_bytes`` in hex without 0x: ``8000000`` (source: the guest)."""
        write(self.sys / "devices/system/memory/block_size_bytes", f"{block_size:x}\n")

    def set_auto_online(self, policy: str) -> None:
        write(self.sys / "devices/system/memory/auto_online_blocks", policy + "\n")

    def set_firmware_memmap(self, ranges: list[tuple[int, int, str]]) -> None:
        """``(start, end_inclusive, type)`` entries of /sys/firmware/memmap."""
        for index, (start, end, kind) in enumerate(ranges):
            entry = self.sys / "firmware/memmap" / str(index)
            write(entry / "start", f"{start:#x}\n")
            write(entry / "end", f"{end:#x}\n")
            write(entry / "type", kind + "\n")

    def set_efi(self) -> None:
        (self.sys / "firmware/efi/efivars").mkdir(parents=True, exist_ok=True)

    def set_cmdline(self, text: str) -> None:
        write(self.root / "proc/cmdline", text + "\n")

    def set_kernel(self, release: str) -> None:
        write(self.root / "proc/sys/kernel/osrelease", release + "\n")

    def install_module(self, release: str, module: str = "fsdev_dax") -> None:
        """A kernel module on disk, compressed as Debian's Linux 7.2 ships it."""
        write(self.root / "lib/modules" / release / f"kernel/drivers/dax/{module}.ko.xz", "")

    def set_builtin(self, release: str, modules: list[str]) -> None:
        text = "".join(f"kernel/drivers/dax/{module}.ko\n" for module in modules)
        write(self.root / "lib/modules" / release / "modules.builtin", text)

    def set_grub(self, text: str) -> None:
        write(self.root / "etc/default/grub", text)

    def install_kernel(self, release: str) -> None:
        """A kernel the boot loader can start, as distributions install it."""
        write(self.root / "boot" / f"vmlinuz-{release}", "")

    def set_os_release(self, os_id: str, version: str, like: str = "") -> None:
        text = f'ID={os_id}\nVERSION_ID="{version}"\n' + (f"ID_LIKE={like}\n" if like else "")
        write(self.root / "etc/os-release", text)

    # --- processes and mounts --------------------------------------------------------

    def add_mount(self, source: str, target: str, fstype: str) -> None:
        with (self.root / "proc/mounts").open("a") as handle:
            handle.write(f"{source} {target} {fstype} rw,relatime 0 0\n")

    def add_process(
        self, pid: int, comm: str, *, opened: tuple[str, ...] = (), mapped: tuple[str, ...] = ()
    ) -> None:
        proc = self.root / "proc" / str(pid)
        write(proc / "comm", comm + "\n")
        (proc / "fd").mkdir(parents=True, exist_ok=True)
        for fd, path in enumerate(opened, start=3):
            (proc / "fd" / str(fd)).symlink_to(path)
        lines = [
            f"7f0000{n:06x}000-7f0000{n:06x}fff rw-s 00000000 00:06 {n} {path}"
            for n, path in enumerate(mapped)
        ]
        write(proc / "maps", "".join(line + "\n" for line in lines))


def _rmtree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
        return
    for child in path.iterdir():
        _rmtree(child)
    path.rmdir()
