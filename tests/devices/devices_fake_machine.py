"""A fake machine under a directory, laid out like the real sysfs/procfs.

Used by the tests and by the fake ``daxctl``/``ndctl`` programs, which change the same tree.
"""

from __future__ import annotations

import os
from pathlib import Path

GiB = 1024**3
MiB = 1024**2
FAMFS_MAGIC = 0x87B282FF
DRIVERS = {"devdax": "device_dax", "system-ram": "kmem", "famfs": "fsdev_dax"}
NS_MODE_ATTR = {"fsdax": "memory", "devdax": "dax", "sector": "safe", "raw": "raw"}
NS_ATTR_MODE = {value: key for key, value in NS_MODE_ATTR.items()}


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


class FakeMachine:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sys = root / "sys"
        for driver in DRIVERS.values():
            (self.sys / "bus/dax/drivers" / driver).mkdir(parents=True, exist_ok=True)
        (self.sys / "bus/dax/devices").mkdir(parents=True, exist_ok=True)
        (self.sys / "bus/nd/devices").mkdir(parents=True, exist_ok=True)
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
        write(device / "target_node", f"{target_node}\n")
        write(device / "resource", f"{resource:#x}\n")
        relink(self.sys / "bus/dax/devices" / name, device)
        self.set_dax_mode(name, mode)
        return device

    def set_dax_mode(self, name: str, mode: str | None) -> None:
        link = self.sys / "bus/dax/devices" / name / "driver"
        if link.is_symlink():
            link.unlink()
        if mode is not None:
            relink(link, self.sys / "bus/dax/drivers" / DRIVERS[mode])

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

    def region_dir(self, region: int = 0) -> Path:
        return self.sys / f"devices/platform/e820_pmem/ndbus0/region{region}"

    def add_namespace(
        self,
        name: str = "namespace0.0",
        *,
        mode: str = "raw",
        size: int = 8573157376,
        numa_node: int = 0,
    ) -> Path:
        region = int(name[len("namespace") :].split(".")[0])
        ns_dir = self.region_dir(region) / name
        write(ns_dir / "size", f"{size}\n")
        write(ns_dir / "numa_node", f"{numa_node}\n")
        relink(self.sys / "bus/nd/devices" / name, ns_dir)
        self.set_namespace_mode(name, mode)
        return ns_dir

    def set_namespace_mode(self, name: str, mode: str) -> None:
        ns_dir = (self.sys / "bus/nd/devices" / name).resolve()
        region_dir = ns_dir.parent
        region = region_dir.name[len("region") :]
        size = int((ns_dir / "size").read_text())
        for old in ("block", "holder"):
            target = ns_dir / old
            if target.is_dir():
                _rmtree(target)
            elif target.exists():
                target.unlink()
        for claim in list(region_dir.glob("pfn*")) + list(region_dir.glob("dax*")):
            _rmtree(claim)
        for link in list((self.sys / "bus/dax/devices").glob(f"dax{region}.*")):
            link.unlink()
        for link in list((self.sys / "block").glob("pmem*")):
            link.unlink()
        write(ns_dir / "mode", NS_MODE_ATTR[mode] + "\n")
        blockdev = f"pmem{region}"
        if mode == "raw":
            write(ns_dir / "holder", "\n")
            self._block(ns_dir / "block" / blockdev, size)
        elif mode == "fsdax":
            write(ns_dir / "holder", f"pfn{region}.1\n")
            pfn = region_dir / f"pfn{region}.1"
            write(pfn / "align", f"{2 * MiB}\n")
            write(pfn / "namespace", f"{name}\n")
            self._block(pfn / "block" / blockdev, size - 128 * MiB)
        elif mode == "devdax":
            write(ns_dir / "holder", f"dax{region}.1\n")
            nd_dax = region_dir / f"dax{region}.1"
            write(nd_dax / "align", f"{2 * MiB}\n")
            write(nd_dax / "namespace", f"{name}\n")
            self.add_dax(f"dax{region}.0", size=size - 128 * MiB, parent=nd_dax)

    def _block(self, block_dir: Path, size: int) -> None:
        write(block_dir / "size", f"{size // 512}\n")
        (block_dir / "holders").mkdir(parents=True, exist_ok=True)
        relink(self.sys / "block" / block_dir.name, block_dir)

    def namespace_mode(self, name: str) -> str:
        return NS_ATTR_MODE[(self.sys / "bus/nd/devices" / name / "mode").read_text().strip()]

    # --- memory, firmware, boot ------------------------------------------------------

    def set_memory_blocks(
        self, start: int, size: int, state: str, block_size: int = 128 * MiB
    ) -> None:
        memory = self.sys / "devices/system/memory"
        write(memory / "block_size_bytes", f"{block_size:x}\n")
        for index in range(start // block_size, (start + size) // block_size):
            write(memory / f"memory{index}/state", state + "\n")

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
