"""Boot real Linux guests through libvirt and run named steps inside them.

The guests are small: Debian's own kernel (``linux-image-*-amd64``), an initramfs made of
Debian's ``busybox-static`` and the kernel modules an emulated NVDIMM and a 9p root need, and
the host's root filesystem, read-only over virtio-9p. The guest's init mounts that root,
``chroot``\\ s into it and runs a batch of steps with the host's own shell, Python, ndctl and
daxctl, and famfs-xml from the checkout under test. Each step's stdout, stderr, exit code and
duration come back over the serial console (a file on the host) between markers.

Three layers:

* :class:`GuestKit` - the kernel and busybox, fetched with ``apt-get download`` and unpacked
  with ``dpkg-deb -x`` into a cache directory (``FAMFS_XML_GUEST_CACHE``, default
  ``~/.cache/famfs-xml/guests``), and the initramfs images built from them (cached by content).
  ``python3 tests/guests/guestlab.py fetch`` fills the cache.
* :class:`GuestLab` - one directory of run files plus a :class:`~libvirt_judge.LibvirtJudge`
  (embedded QEMU driver). :meth:`GuestLab.base_domain` writes a domain with direct kernel
  boot, the 9p root and a console file; hand it to ``famfs-xml attach`` and the like.
  :meth:`GuestLab.run` boots several domains at once, runs their steps and returns a
  :class:`GuestResult` per guest; every domain it started is destroyed again.
* :class:`Step` - a shell command run inside the guest (in the chroot). ``after`` names a
  step of another guest (``"writer.write"``): the step waits until that one has ended. The
  host watches the consoles and drops an event file that the waiting guest sees over 9p.

Guests run under TCG (``type='qemu'``). A boot to the first step takes about 5 s; each Python
command inside costs 2-5 s, shell tools a fraction of that, so batch the work per boot.
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import json
import lzma
import os
import re
import secrets
import shlex
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from libvirt_judge import LibvirtJudge, domain_name

__all__ = [
    "DEFAULT_MODULES",
    "Guest",
    "GuestKit",
    "GuestLab",
    "GuestResult",
    "KitUnavailable",
    "Step",
    "StepResult",
    "attach_domains",
    "cache_dir",
    "famfs_xml",
    "make_backing",
    "write_steps",
    "write_tracer",
]

REPO = Path(__file__).resolve().parents[2]
CACHE_ENV = "FAMFS_XML_GUEST_CACHE"
KERNEL_PACKAGE_ENV = "FAMFS_XML_GUEST_KERNEL_PACKAGE"
FETCH_COMMAND = "python3 tests/guests/guestlab.py fetch"

#: What every guest loads, in this order (each module's own dependencies are loaded first):
#: the NVDIMM stack, then virtio-pci and 9p for the host root.
DEFAULT_MODULES: tuple[str, ...] = (
    "libnvdimm",
    "nfit",
    "nd_btt",
    "nd_pmem",
    "device_dax",
    "dax_pmem",
    "kmem",
    "nd_e820",
    "virtio_pci",
    "9pnet_virtio",
    "9p",
)

MiB = 1024 * 1024
#: The event a guest that has powered off (or died) leaves: steps of other guests that wait
#: for one of its steps stop waiting at once ("GUEST.ended"; step names have no dots).
ENDED = ".ended"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class KitUnavailable(RuntimeError):
    """No guest kernel or busybox in the cache, or they cannot be fetched."""


def cache_dir() -> Path:
    """``$FAMFS_XML_GUEST_CACHE``, else ``~/.cache/famfs-xml/guests``."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value:
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "famfs-xml" / "guests"


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the cache: two sessions never unpack or build at once."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- the kit: kernel, modules, busybox, initramfs --------------------------------------------


def _run(args: Sequence[str], *, cwd: Path | None = None) -> str:
    result = subprocess.run(
        list(args), cwd=cwd, capture_output=True, text=True, check=False, timeout=600
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise KitUnavailable(f"`{' '.join(args)}` failed: {' | '.join(detail)}")
    return result.stdout


class AptSource:
    """Where packages come from: the host's own apt configuration, or a suite of the host's
    Debian mirror read into private lists in the cache (the host's sources stay untouched)."""

    def __init__(self, suite: str | None = None, directory: Path | None = None) -> None:
        self.suite = suite
        self.directory = directory  # the suite's sources.list, lists and apt cache

    @property
    def options(self) -> list[str]:
        # apt's sandbox user cannot write into a root-owned cache; we fetch, not install
        options = ["-o", "APT::Sandbox::User=root"]
        if self.suite is None or self.directory is None:
            return options
        return [
            *options,
            "-o", f"Dir::Etc::SourceList={self.directory / 'sources.list'}",
            "-o", "Dir::Etc::SourceParts=/dev/null",
            "-o", f"Dir::State::Lists={self.directory / 'lists'}",
            "-o", f"Dir::Cache={self.directory / 'cache'}",
        ]  # fmt: skip

    def update(self) -> None:
        """Read the suite's package lists (the host's own lists are apt's business)."""
        if self.suite is None or self.directory is None:
            return
        for sub in ("lists/partial", "cache/archives/partial"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        line = f"deb [signed-by={keyring}] {host_mirror()} {self.suite} main\n"
        (self.directory / "sources.list").write_text(line)
        _run(["apt-get", "update", "-q", *self.options])

    def depends(self, package: str) -> list[str]:
        """The packages ``package`` depends on (first alternatives only)."""
        out = _run(["apt-cache", *self.options, "depends", "--important", package])
        return re.findall(r"^\s*Depends:\s*([^\s<>]+)\s*$", out, re.MULTILINE)


def host_mirror() -> str:
    """The Debian mirror the host's apt sources name (deb822 or one-line format)."""
    deb822 = Path("/etc/apt/sources.list.d/debian.sources")
    if deb822.is_file():
        for line in deb822.read_text(encoding="utf-8").splitlines():
            if line.startswith("URIs:"):
                return line.split(":", 1)[1].split()[0]
    one_line = Path("/etc/apt/sources.list")
    if one_line.is_file():
        for line in one_line.read_text(encoding="utf-8").splitlines():
            match = re.match(r"deb\s+(?:\[[^]]*\]\s+)?(\S+)\s", line)
            if match and "security" not in match.group(1):
                return match.group(1)
    return "http://deb.debian.org/debian"


def _kernel_packages(apt: AptSource, env_override: bool) -> list[str]:
    """The image ``linux-image-amd64`` depends on (``linux-image-6.1.0-56-amd64``), and, from
    Linux 7 on, where Debian splits it, the packages that hold the kernel, its modules and
    its ``modules.builtin`` (``linux-binary-7.2.13+deb14-amd64``,
    ``linux-modules-7.2.13+deb14-amd64``, ``linux-base-7.2.13+deb14-amd64``)."""
    chosen = os.environ.get(KERNEL_PACKAGE_ENV, "").strip() if env_override else ""
    image = chosen or next(
        (p for p in apt.depends("linux-image-amd64") if re.fullmatch(r"linux-image-\d\S*", p)),
        None,
    )
    if image is None:
        raise KitUnavailable("apt-cache names no linux-image-*-amd64 for linux-image-amd64")
    parts = [
        p for p in apt.depends(image) if re.fullmatch(r"linux-(?:base|binary|modules)-\d\S*", p)
    ]
    return [image, *sorted(parts)]


def _download_and_unpack(packages: Sequence[str], into: Path, scratch: Path, apt: AptSource) -> str:
    """``apt-get download`` the packages, then ``dpkg-deb -x`` them all into ``into``; the
    first one's version."""
    for old in scratch.glob("*.deb"):
        old.unlink()
    _run(["apt-get", "download", "-q", *apt.options, *packages], cwd=scratch)
    staging = into.with_name(into.name + ".part")
    shutil.rmtree(staging, ignore_errors=True)
    versions = []
    for package in packages:
        debs = sorted(scratch.glob(f"{package}_*.deb"))
        if not debs:
            raise KitUnavailable(f"apt-get download {package} left no .deb in {scratch}")
        versions.append(_run(["dpkg-deb", "-f", str(debs[0]), "Version"]).strip())
        _run(["dpkg-deb", "-x", str(debs[0]), str(staging)])
        debs[0].unlink()
    shutil.rmtree(into, ignore_errors=True)
    staging.rename(into)
    return versions[0]


def _first(directory: Path, patterns: Sequence[str]) -> Path | None:
    for pattern in patterns:
        found = sorted(directory.glob(pattern))
        if found:
            return found[0]
    return None


#: How Debian compresses modules: none up to Linux 6.1, xz from Linux 6.x/7 on.
_MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.gz")


def module_bytes(path: Path) -> bytes:
    """A module's ELF image, decompressed: busybox's insmod loads plain ``.ko`` files only."""
    data = path.read_bytes()
    if path.name.endswith(".xz"):
        return lzma.decompress(data)
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    return data


def _module_name(path: Path) -> str:
    for suffix in sorted(_MODULE_SUFFIXES, key=len, reverse=True):
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.name


def _modinfo(path: Path) -> dict[str, list[str]]:
    """``depends=`` and ``softdep=`` of a ``.ko``, read from its ``.modinfo`` strings."""
    data = module_bytes(path)
    info: dict[str, list[str]] = {"depends": [], "softdep": []}
    for key in info:
        for match in re.finditer(rb"(?:^|\0)" + key.encode() + rb"=([^\0]*)\0", data):
            info[key].append(match.group(1).decode("ascii", "replace"))
    return info


def _attr(value: str) -> str:
    """An XML attribute value in single quotes, as libvirt writes them."""
    return "'" + escape(value, {"'": "&apos;", '"': "&quot;"}) + "'"


def _module_key(name: str) -> str:
    return name.replace("-", "_")


#: The kernels the guest tier boots: Debian 12's (the host's own apt suite) and Debian
#: sid's, the newest (Linux 7.x, with the fsdev_dax driver famfs mounts through).
SUITES = ("host", "sid")


def kit_cache(suite: str = "host", cache: Path | None = None) -> Path:
    """Where a suite's kit lives: the cache itself for the host's, a subdirectory for sid."""
    if suite not in SUITES:
        raise ValueError(f"unknown kernel suite {suite!r} (use {', '.join(SUITES)})")
    base = cache or cache_dir()
    return base if suite == "host" else base / suite


def _apt_for(suite: str, cache: Path) -> AptSource:
    return AptSource() if suite == "host" else AptSource(suite, cache / "apt")


@dataclass(frozen=True)
class GuestKit:
    """An unpacked kernel package and busybox-static, ready to build initramfs images."""

    cache: Path
    vmlinuz: Path
    modules_dir: Path  # lib/modules/VERSION
    busybox: Path
    kernel_package: str
    kernel_version: str
    suite: str = "host"

    @property
    def fetch_command(self) -> str:
        return FETCH_COMMAND + ("" if self.suite == "host" else f" --kernel {self.suite}")

    @classmethod
    def load(cls, cache: Path | None = None, suite: str = "host") -> GuestKit:
        """The kit recorded in the cache; :class:`KitUnavailable` says how to fetch it."""
        cache = kit_cache(suite, cache)
        command = FETCH_COMMAND + ("" if suite == "host" else f" --kernel {suite}")
        record = cache / "kit.json"
        if not record.is_file():
            raise KitUnavailable(
                f"no {suite} guest kernel in {cache} (set {CACHE_ENV} or run `{command}`)"
            )
        data = json.loads(record.read_text(encoding="utf-8"))
        kit = cls(
            cache=cache,
            vmlinuz=cache / data["vmlinuz"],
            modules_dir=cache / data["modules_dir"],
            busybox=cache / data["busybox"],
            kernel_package=data["kernel_package"],
            kernel_version=data["kernel_version"],
            suite=suite,
        )
        for path in (kit.vmlinuz, kit.modules_dir, kit.busybox):
            if not path.exists():
                raise KitUnavailable(f"{path} is missing: run `{command}` again")
        return kit

    @classmethod
    def fetch(cls, cache: Path | None = None, suite: str = "host") -> GuestKit:
        """Download and unpack the kernel and busybox (nothing is installed); idempotent.

        The kit is kept by the kernel package's name, which names its version: the same
        package is fetched once. sid's lists are read anew each time (a second or two); when
        the mirror cannot be reached, the kit already in the cache is used.
        """
        directory = kit_cache(suite, cache)
        if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
            raise KitUnavailable("apt-get and dpkg-deb are needed to fetch the guest kernel")
        with _locked(directory):
            try:
                kit: GuestKit | None = cls.load(cache, suite)
            except KitUnavailable:
                kit = None
            apt = _apt_for(suite, directory)
            try:
                apt.update()
                packages = _kernel_packages(apt, env_override=suite == "host")
            except KitUnavailable:
                if kit is not None and suite != "host":
                    return kit  # offline: the kernel fetched before is still good
                raise
            if kit is not None and kit.kernel_package == packages[0]:
                return kit
            cls._unpack(directory, apt, packages)
            return cls.load(cache, suite)

    @staticmethod
    def _unpack(cache: Path, apt: AptSource, packages: list[str]) -> None:
        scratch = cache / "download"
        scratch.mkdir(parents=True, exist_ok=True)
        for old in cache.glob("linux-image-*"):  # an older kernel of this suite
            if old.name != packages[0]:
                shutil.rmtree(old, ignore_errors=True)
        kernel_dir = cache / packages[0]
        _download_and_unpack(packages, kernel_dir, scratch, apt)
        busybox_dir = cache / "busybox-static"
        _download_and_unpack(["busybox-static"], busybox_dir, scratch, apt)
        shutil.rmtree(scratch, ignore_errors=True)
        modules = _first(kernel_dir, ("lib/modules/*", "usr/lib/modules/*"))
        vmlinuz = _first(kernel_dir, ("boot/vmlinuz-*", "usr/lib/modules/*/vmlinuz"))
        busybox = _first(busybox_dir, ("bin/busybox", "usr/bin/busybox"))
        if vmlinuz is None or modules is None or busybox is None:
            raise KitUnavailable(f"{' '.join(packages)} and busybox-static hold no kernel")
        record = {
            "kernel_package": packages[0],
            "kernel_version": modules.name,
            "vmlinuz": str(vmlinuz.relative_to(cache)),
            "modules_dir": str(modules.relative_to(cache)),
            "busybox": str(busybox.relative_to(cache)),
        }
        (cache / "kit.json").write_text(json.dumps(record, indent=2) + "\n", "utf-8")

    # -- modules ---------------------------------------------------------------------------

    def _module_index(self) -> dict[str, Path]:
        index: dict[str, Path] = {}
        for path in sorted((self.modules_dir / "kernel").rglob("*.ko*")):
            if path.name.endswith(_MODULE_SUFFIXES):
                index.setdefault(_module_key(_module_name(path)), path)
        return index

    def builtin_modules(self) -> set[str]:
        """The modules built into the kernel (``modules.builtin``), by name."""
        try:
            text = (self.modules_dir / "modules.builtin").read_text(encoding="utf-8")
        except OSError:
            return set()
        return {_module_key(_module_name(Path(line.strip()))) for line in text.splitlines()}

    def module_order(self, wanted: Iterable[str]) -> list[Path]:
        """The ``.ko`` files to ``insmod`` for ``wanted``: each after what it depends on.

        Hard dependencies (``depends=``) are always added; soft ``pre:`` dependencies when a
        module of that name exists (``ext4`` names ``crc32c``, which is an alias: list
        ``crc32c_generic`` yourself).
        """
        index = self._module_index()
        builtin = self.builtin_modules()
        order: list[Path] = []
        seen: set[str] = set()

        def visit(name: str, chain: tuple[str, ...]) -> None:
            key = _module_key(name)
            if key in seen or not key:
                return
            if key in chain:
                raise KitUnavailable(f"module dependency cycle: {' -> '.join((*chain, key))}")
            path = index.get(key)
            if path is None and key in builtin:
                seen.add(key)  # built into the kernel (virtio_pci is, from Linux 7 on)
                return
            if path is None:
                raise KitUnavailable(f"{self.kernel_package} has no module {name}")
            info = _modinfo(path)
            for entry in info["depends"]:
                for dep in filter(None, entry.split(",")):
                    visit(dep, (*chain, key))
            for entry in info["softdep"]:
                pre = re.search(r"pre:\s*([^:]*?)(?:\s+post:|$)", entry)
                for dep in pre.group(1).split() if pre else []:
                    if _module_key(dep) in index:
                        visit(dep, (*chain, key))
            seen.add(key)
            order.append(path)

        for name in wanted:
            visit(name, ())
        return order

    # -- initramfs -------------------------------------------------------------------------

    def initramfs(self, modules: Sequence[str] = DEFAULT_MODULES) -> Path:
        """A gzip'd newc cpio with busybox, the modules (in load order) and :data:`INIT`.

        Built once per kernel, module list and init script, then taken from the cache.
        """
        paths = self.module_order(modules)
        digest = hashlib.sha256(
            "\0".join([self.kernel_package, INIT, *(p.name for p in paths)]).encode()
        ).hexdigest()[:16]
        target = self.cache / "initramfs" / f"initramfs-{self.kernel_version}-{digest}.cpio.gz"
        if target.is_file():
            return target
        with _locked(self.cache):
            if target.is_file():
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            archive = _Cpio()
            for directory in ("bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules"):
                archive.directory(directory)
            archive.device("dev/console", 5, 1)
            archive.file("bin/busybox", self.busybox.read_bytes(), 0o755)
            archive.file("init", INIT.encode(), 0o755)
            names = []
            for number, path in enumerate(paths):
                name = f"{number:02d}-{_module_name(path)}.ko"
                names.append(name)
                archive.file(f"lib/modules/{name}", module_bytes(path), 0o644)
            archive.file("lib/modules/load-order", ("\n".join(names) + "\n").encode(), 0o644)
            data = gzip.compress(archive.finish(), compresslevel=1, mtime=0)
            partial = target.with_suffix(".part")
            partial.write_bytes(data)
            partial.rename(target)
        return target


class _Cpio:
    """A minimal writer of the ``newc`` cpio format the kernel unpacks as initramfs."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._inode = 1

    def _entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        encoded = name.encode() + b"\0"
        fields = (
            self._inode, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data),
            0, 0, rdev[0], rdev[1], len(encoded), 0,
        )  # fmt: skip
        self._inode += 1
        self._out += b"070701" + b"".join(b"%08X" % value for value in fields) + encoded
        self._out += b"\0" * (-len(self._out) % 4)
        self._out += data
        self._out += b"\0" * (-len(self._out) % 4)

    def directory(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, perm: int) -> None:
        self._entry(name, stat.S_IFREG | perm, data)

    def device(self, name: str, major: int, minor: int) -> None:
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return bytes(self._out)


#: The initramfs's /init (busybox sh): load the modules, mount the host root over 9p, run the
#: batch script named by ``famfs_guest.run=`` on the kernel command line in a chroot of it,
#: power off. Failures print an ``@@FXINIT:`` line so that the host does not wait in vain.
#:
#: With ``famfs_guest.userland=DIR`` (a directory of the host, e.g. a Debian sid root) the
#: chroot is that directory instead, made on a tmpfs of bind mounts of DIR's top-level
#: directories, with the host's ``famfs_guest.share=`` paths (the checkout, the run files)
#: bound at their own paths, so that every path the batch names works the same.
INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
fail() { echo "@@FXINIT:FAILED:$*@@"; poweroff -f; sleep 30; }
while read -r ko; do
    insmod "/lib/modules/$ko" || echo "@@FXINIT:WARNING:insmod $ko failed@@"
done </lib/modules/load-order
run=
userland=
shares=
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        famfs_guest.run=*) run="${arg#famfs_guest.run=}" ;;
        famfs_guest.userland=*) userland="${arg#famfs_guest.userland=}" ;;
        famfs_guest.share=*) shares="${arg#famfs_guest.share=}" ;;
    esac
done
[ -n "$run" ] || fail "no famfs_guest.run= on the kernel command line"
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /newroot \
    || fail "cannot mount the host root over 9p"
root=/newroot
if [ -n "$userland" ]; then
    src="/newroot$userland"
    [ -d "$src/usr/bin" ] || fail "no userland at $userland"
    mkdir -p /userland && mount -t tmpfs -o mode=755 tmpfs /userland || fail "no tmpfs"
    tops=" proc sys dev run tmp "
    for path in $(echo "$shares" | tr , ' '); do
        top="${path#/}"; top="${top%%/*}"; tops="$tops$top "
    done
    for entry in "$src"/* "$src"/.[!.]*; do
        name="${entry##*/}"
        [ -e "$entry" ] || [ -L "$entry" ] || continue
        case "$tops" in *" $name "*) mkdir -p "/userland/$name"; continue ;; esac
        if [ -L "$entry" ]; then
            ln -s "$(readlink "$entry")" "/userland/$name"
        elif [ -d "$entry" ]; then
            mkdir "/userland/$name" && mount -o bind "$entry" "/userland/$name" \
                || fail "cannot bind $userland/$name"
        fi
    done
    for path in $(echo "$shares" | tr , ' '); do
        mkdir -p "/userland$path" && mount -o bind "/newroot$path" "/userland$path" \
            || fail "cannot share $path with the userland"
    done
    root=/userland
fi
mount -t proc proc $root/proc && mount -t sysfs sysfs $root/sys \
    && mount -t devtmpfs devtmpfs $root/dev && mount -t tmpfs -o mode=755 tmpfs $root/run \
    || fail "cannot mount proc, sysfs, devtmpfs and /run in the guest's root"
[ -r "$root$run" ] || fail "the guest cannot read $run over 9p"
echo "@@FXINIT:READY:$(cut -d' ' -f1 /proc/uptime)@@"
chroot $root /bin/sh "$run"
echo "@@FXINIT:EXIT:$?@@"
poweroff -f
sleep 30
"""


# -- steps and results -----------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One shell command (``sh -c`` semantics) run inside the guest, in the host root's chroot.

    ``after`` is ``"GUEST.STEP"``: wait until that step of another guest has ended (its exit
    code is in the event file ``$FX_EVENTS/GUEST.STEP``). A step that waits in vain, or runs
    longer than ``timeout`` seconds, ends with exit code 124.

    Inside the step: ``famfs-xml`` runs the checkout under test, ``$FX_REPO`` is that
    checkout, ``$FX_RUN`` the guest's run directory on the host (read-only), ``/run/fx`` a
    writable scratch directory, ``PYTHON`` the test session's interpreter, and ``FX_STEP``
    the step's name.

    :meth:`famfs_xml` makes a step that runs ``famfs-xml ARGS`` itself (``argv``), and
    :meth:`python` one that runs Python ``source``, both cheaply: see :class:`Guest`.
    """

    name: str
    command: str
    after: str | None = None
    timeout: float = 180.0
    argv: tuple[str, ...] | None = None  # famfs-xml's arguments; ``command`` then shows them
    source: str | None = None  # Python source; ``command`` then runs it with $PYTHON

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"step name {self.name!r}: use letters, digits, - and _")

    @classmethod
    def famfs_xml(
        cls, name: str, *args: str, after: str | None = None, timeout: float = 180.0
    ) -> Step:
        """``famfs-xml ARGS`` (no shell), run as a process forked from one that has already
        imported famfs-xml: the same process ``famfs-xml ARGS`` would be, 3-5 s faster under
        TCG."""
        return cls(name, shlex.join(("famfs-xml", *args)), after, timeout, tuple(args))

    @classmethod
    def python(
        cls, name: str, source: str, *, after: str | None = None, timeout: float = 180.0
    ) -> Step:
        """Python ``source`` (the standard library, and famfs-xml from the checkout), run in a
        process forked as for :meth:`famfs_xml`: no interpreter start, as cheap as a shell
        command under TCG."""
        command = f"\"$PYTHON\" - <<'FX_PYTHON_EOF'\n{source}\nFX_PYTHON_EOF"
        return cls(name, command, after, timeout, None, source)

    @property
    def forked(self) -> bool:
        """Run in a child of guestrun.py's process (a famfs-xml or a Python step)."""
        return self.argv is not None or self.source is not None

    @property
    def seconds(self) -> int:
        """The timeout as the runners apply it: whole seconds, at least one."""
        return max(1, round(self.timeout))


@dataclass(frozen=True)
class StepResult:
    name: str
    exit_code: int
    stdout: str
    stderr: str
    started: float  # the guest's uptime, seconds
    ended: float

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    def __str__(self) -> str:
        return (
            f"step {self.name}: exit {self.exit_code} after {self.seconds:.1f} s\n"
            f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"
        )


@dataclass
class GuestResult:
    """What one guest did: its steps (in order), its console, timings from the host."""

    name: str
    steps: dict[str, StepResult] = field(default_factory=dict)
    console: str = ""
    start_error: str | None = None  # libvirt's message when the domain did not start
    finished: bool = False  # the batch ran to its end and the guest powered off
    ready_seconds: float | None = None  # from `virsh start` to the 9p root being ready
    seconds: float = 0.0  # from `virsh start` to power-off (or giving up)
    qemu_log: str = ""

    def __getitem__(self, step: str) -> StepResult:
        if step not in self.steps:
            raise AssertionError(
                f"guest {self.name} has no result for step {step!r}"
                f" (start error: {self.start_error})\n{self.diagnosis()}"
            )
        return self.steps[step]

    def tool_calls(self, step: str | None = None) -> list[list[str]]:
        """The calls of the guest's traced programs (see :class:`Guest`), each as the program
        and its arguments: those made by ``step``, or by every step."""
        calls = []
        for line in self["tool-calls"].stdout.splitlines():
            name, *argv = line.split("\t")
            if argv and step in (None, name):
                calls.append(argv)
        return calls

    def memory_backends(self) -> list[dict[str, Any]]:
        """The ``memory-backend-file`` objects libvirt handed QEMU, from QEMU's log."""
        found = re.findall(
            r"""-object '(\{"qom-type":"memory-backend-file".*?\})'""", self.qemu_log
        )
        return [json.loads(text) for text in found]

    def diagnosis(self, lines: int = 40) -> str:
        """The end of the console and QEMU's log, for assertion messages."""
        tail = "\n".join(self.console.splitlines()[-lines:])
        log = "\n".join(self.qemu_log.splitlines()[-10:])
        return f"--- console of {self.name} (tail)\n{tail}\n--- qemu log (tail)\n{log}"


_STEP_RE = (
    r"@@FX:{nonce}:BEGIN:(?P<name>[A-Za-z0-9_-]+)@@\n(?P<out>.*?)\n"
    r"@@FX:{nonce}:STDERR:(?P=name)@@\n(?P<err>.*?)\n"
    r"@@FX:{nonce}:END:(?P=name):(?P<rc>-?\d+):(?P<t0>[\d.]+):(?P<t1>[\d.]+)@@\n"
)


def parse_console(text: str, nonce: str) -> dict[str, StepResult]:
    """The steps reported on a console (``\\r\\n`` as written by the tty is read as ``\\n``)."""
    text = text.replace("\r\n", "\n")
    pattern = re.compile(_STEP_RE.format(nonce=re.escape(nonce)), re.DOTALL)
    return {
        m["name"]: StepResult(
            m["name"], int(m["rc"]), m["out"], m["err"], float(m["t0"]), float(m["t1"])
        )
        for m in pattern.finditer(text)
    }


# -- the lab ---------------------------------------------------------------------------------


TOOL_CALLS_LOG = '"${FX_SCRATCH:-/run/fx}/tool-calls.log"'  # in the guest's scratch space
#: The step a traced guest ends with: the calls of its traced programs.
TOOL_CALLS = Step("tool-calls", f"cat {TOOL_CALLS_LOG} 2>/dev/null; true")
GUESTRUN = Path(__file__).resolve().parent / "guestrun.py"
_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def write_tracer(bin_dir: Path, program: str, userland: Path | None = None) -> None:
    """A ``program`` first on the guest's PATH that logs the step and its arguments (tab
    separated) to :data:`TOOL_CALLS_LOG`, then runs the real one (of ``userland`` when the
    guests run in one)."""
    base = str(userland) if userland is not None else ""
    path = ":".join(base + directory for directory in _SYSTEM_PATH.split(":"))
    found = shutil.which(program, path=path)
    real = found[len(base) :] if found is not None else None
    if real is None or not _NAME.match(program):
        raise ValueError(f"cannot trace {program!r}: no such program on {_SYSTEM_PATH}")
    tracer = bin_dir / program
    tracer.write_text(
        "#!/bin/sh\n"
        f"{{ printf '%s' \"$FX_STEP\"; printf '\\t%s' {shlex.quote(program)} \"$@\"; echo; }}"
        f" 2>/dev/null >>{TOOL_CALLS_LOG}\n"  # not root: the log is not writable, run anyway
        f'exec {shlex.quote(real)} "$@"\n'
    )
    tracer.chmod(0o755)


def write_steps(directory: Path, steps: Sequence[Step]) -> None:
    """Each step's shell script as ``directory/steps/NAME.sh``, and the batch for guestrun.py
    as ``directory/steps.json``."""
    names: set[str] = set()
    for step in steps:
        if step.name in names:
            raise ValueError(f"two steps named {step.name}")
        names.add(step.name)
        (directory / "steps" / f"{step.name}.sh").write_text(step.command + "\n")
    batch = {
        "steps": [
            {
                "name": step.name,
                "timeout": step.seconds,
                "after": step.after,
                "argv": None if step.argv is None else list(step.argv),
                "python": step.source,
            }
            for step in steps
        ]
    }
    (directory / "steps.json").write_text(json.dumps(batch, indent=1) + "\n")


def _python_runner(directory: Path) -> str:
    """The end of ``run.sh`` for a guest with forked steps: hand the batch to guestrun.py."""
    batch_file = shlex.quote(str(directory / "steps.json"))
    return f'exec "$PYTHON" {shlex.quote(str(GUESTRUN))} {batch_file} "$N"\n'


@dataclass(frozen=True)
class Guest:
    """A domain to boot (XML from :meth:`GuestLab.base_domain`, edited as the test likes) and
    the steps to run in it.

    A guest with a :meth:`Step.famfs_xml` or :meth:`Step.python` step runs its batch with
    ``guestrun.py``: Python starts once per boot, imports famfs-xml's command line, and forks
    a child for each such step; shell steps run as they do otherwise.

    ``trace`` names programs (``ndctl``, ``daxctl``) whose every call inside the guest is
    recorded with the step that made it: :meth:`GuestResult.tool_calls`.

    ``lab`` is the variant of the running lab (:meth:`GuestLab.variant`) whose kernel and
    userland the domain was written for; by default the lab that runs it. Guests of several
    variants boot together in one :meth:`GuestLab.run`.
    """

    xml: str
    steps: Sequence[Step]
    trace: Sequence[str] = ()
    lab: GuestLab | None = None

    @property
    def name(self) -> str:
        name = domain_name(self.xml)
        if not name or not _NAME.match(name):
            raise ValueError(f"guest domain name {name!r}: use letters, digits, - and _")
        return name


# In another userland the checkout has no bytecode for its Python (the host's tests leave
# only their own): compile once per boot into the guest's scratch space, not at every start.
_BYTECODE = "unset PYTHONDONTWRITEBYTECODE; export PYTHONPYCACHEPREFIX=/run/fx/pycache"

_RUNNER_HEAD = r"""# from tests/guests/guestlab.py: runs in the guest, in a chroot of the host root
N={nonce}
FX_RUN={run_dir}
FX_EVENTS={events}
FX_REPO={repo}
PYTHON={python}
export FX_RUN FX_EVENTS FX_REPO PYTHON
export PATH={run_dir}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/run/fx TMPDIR=/run/fx LC_ALL=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH={repo}
{bytecode}
mkdir -p /run/fx
cd /run/fx
exec </dev/null
fx_wait() {{  # EVENT SECONDS: wait for the host to drop the event file
    fx_n=0
    while [ ! -e "$FX_EVENTS/$1" ]; do
        [ -e "$FX_EVENTS/${{1%%.*}}{ended}" ] && return 1  # that guest is gone
        fx_n=$((fx_n + 1))
        [ "$fx_n" -gt $(($2 * 10)) ] && return 1
        sleep 0.1
    done
}}
fx_step() {{  # NAME TIMEOUT AFTER
    fx_t0=$(cut -d' ' -f1 /proc/uptime)
    if [ -n "$3" ] && ! fx_wait "$3" "$2"; then
        : >/run/fx/out
        echo "waited $2 s for $3 in vain" >/run/fx/err
        fx_rc=124
    else
        FX_STEP=$1 timeout -k 5 "$2" /bin/sh "$FX_RUN/steps/$1.sh" >/run/fx/out 2>/run/fx/err
        fx_rc=$?
    fi
    fx_t1=$(cut -d' ' -f1 /proc/uptime)
    printf '@@FX:%s:BEGIN:%s@@\n' "$N" "$1"
    cat /run/fx/out
    printf '\n@@FX:%s:STDERR:%s@@\n' "$N" "$1"
    cat /run/fx/err
    printf '\n@@FX:%s:END:%s:%s:%s:%s@@\n' "$N" "$1" "$fx_rc" "$fx_t0" "$fx_t1"
}}
"""


#: Top-level directories of a userland that its programs need: a shared path must not live
#: under one, because the guest makes a shared path's top-level directory anew, empty.
_ESSENTIAL = frozenset({"", "usr", "bin", "sbin", "lib", "lib32", "lib64", "etc", "var", "opt"})


def _check_shares(userland: Path, shares: Sequence[Path]) -> None:
    """A path the guests share must not hide a directory of the userland (its /usr, /opt)."""
    for path in shares:
        top = path.resolve().parts[1] if len(path.resolve().parts) > 1 else ""
        if top in _ESSENTIAL:
            raise ValueError(
                f"{path} cannot be shared with the guests: it would hide /{top} of {userland}"
            )


class GuestLab:
    """Guests booted through one embedded libvirt QEMU driver, with their files in ``root``.

    ``root`` holds one directory per guest name (its console, batch script, steps, event
    files); the backing files of the tests may live there too. The lab does not remove
    ``root``; the caller owns it.
    """

    def __init__(
        self,
        kit: GuestKit,
        judge: LibvirtJudge,
        root: Path,
        *,
        repo: Path = REPO,
        python: str = sys.executable,
        userland: Path | None = None,
    ) -> None:
        """``userland`` is a root directory of the host (a Debian sid root, say) that the
        guests run their steps in, instead of the host's own root; ``python`` is then the
        interpreter inside it that has famfs-xml's dependencies."""
        self.kit = kit
        self.judge = judge
        self.root = root
        self.repo = repo
        self.python = python
        self.userland = userland
        if userland is not None:
            _check_shares(userland, (repo, root))
        self.events = root / "events"
        self.events.mkdir(parents=True, exist_ok=True)
        #: every boot of this lab: (guest, seconds to the 9p root, seconds to power-off, the
        #: guest's kernel release)
        self.boots: list[tuple[str, float | None, float, str]] = []

    def variant(
        self, kit: GuestKit, *, userland: Path | None = None, python: str | None = None
    ) -> GuestLab:
        """The same lab (libvirt driver, run files, events) with another kernel, and
        optionally another userland and its interpreter: its guests boot together with this
        lab's (see :class:`Guest`)."""
        lab = GuestLab(
            kit,
            self.judge,
            self.root,
            repo=self.repo,
            python=python or self.python,
            userland=userland,
        )
        lab.boots = self.boots  # one record of the boots
        return lab

    def guest_dir(self, name: str) -> Path:
        return self.root / "guests" / name

    def console_path(self, name: str) -> Path:
        return self.guest_dir(name) / "console.log"

    def base_domain(
        self,
        name: str,
        *,
        memory_mib: int = 256,
        vcpus: int = 1,
        cmdline: str = "",
        machine: str = "q35",
        modules: Sequence[str] = DEFAULT_MODULES,
        numa: bool = False,
    ) -> str:
        """A small domain that boots this lab's kernel straight into the step runner.

        It has what the famfs guide's VMs have before their nvdimm is attached, scaled down:
        ``memory_mib`` of RAM (in one NUMA cell when ``numa``; else ``famfs-xml attach`` adds
        the cell), ``vcpus`` vCPUs, ``machine``. Plus direct kernel boot (``cmdline`` is
        added to the console and runner arguments), the host root over 9p (read-only,
        ``multidevs='remap'``) and a serial console written to :meth:`console_path`.
        """
        if not _NAME.match(name):
            raise ValueError(f"domain name {name!r}: use letters, digits, - and _")
        initrd = self.kit.initramfs(modules)
        run = self.guest_dir(name) / "run.sh"
        # no_timer_check: on a host busy with several TCG guests, the kernel's check of the
        # IO-APIC timer can miss its ticks and panic ("IO-APIC + timer doesn't work!", seen
        # with Linux 7.2); the emulated timer works, so the check is skipped
        boot_args = f"console=ttyS0 loglevel=1 panic=-1 no_timer_check famfs_guest.run={run}"
        if self.userland is not None:
            boot_args += (
                f" famfs_guest.userland={self.userland} famfs_guest.share={self.repo},{self.root}"
            )
        boot_args = f"{boot_args} {cmdline}".strip()
        numa_xml = (
            f">\n    <numa>\n      <cell id='0' cpus='0-{vcpus - 1}' memory='{memory_mib}'"
            " unit='MiB'/>\n    </numa>\n  </cpu>"
            if numa
            else "/>"
        )
        return f"""<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{escape(name)}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <currentMemory unit='MiB'>{memory_mib}</currentMemory>
  <vcpu placement='static'>{vcpus}</vcpu>
  <os>
    <type arch='x86_64' machine={_attr(machine)}>hvm</type>
    <kernel>{escape(str(self.kit.vmlinuz))}</kernel>
    <initrd>{escape(str(initrd))}</initrd>
    <cmdline>{escape(boot_args)}</cmdline>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='maximum' check='none'{numa_xml}
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <filesystem type='mount' accessmode='passthrough' multidevs='remap'>
      <source dir='/'/>
      <target dir='hostroot'/>
      <readonly/>
    </filesystem>
    <serial type='file'>
      <source path={_attr(str(self.console_path(name)))}/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
"""

    # -- running ---------------------------------------------------------------------------

    def _prepare(self, guest: Guest, nonce: str) -> None:
        directory = self.guest_dir(guest.name)
        shutil.rmtree(directory, ignore_errors=True)
        (directory / "steps").mkdir(parents=True)
        (directory / "bin").mkdir()
        wrapper = directory / "bin" / "famfs-xml"
        wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(self.python)} -m famfs_xml "$@"\n')
        wrapper.chmod(0o755)
        for program in guest.trace:
            write_tracer(directory / "bin", program, self.userland)
        for old in self.events.glob(f"{guest.name}.*"):
            old.unlink()
        lines = [
            _RUNNER_HEAD.format(
                nonce=nonce,
                run_dir=shlex.quote(str(directory)),
                events=shlex.quote(str(self.events)),
                repo=shlex.quote(str(self.repo)),
                python=shlex.quote(self.python),
                bytecode=_BYTECODE if self.userland is not None else "",
                ended=ENDED,
            )
        ]
        steps = [*guest.steps, *([TOOL_CALLS] if guest.trace else [])]
        try:
            write_steps(directory, steps)
        except ValueError as exc:
            raise ValueError(f"guest {guest.name}: {exc}") from None
        if any(step.forked for step in steps):
            lines.append(_python_runner(directory))
        else:
            lines += [
                f"fx_step {step.name} {step.seconds} {shlex.quote(step.after or '')}"
                for step in steps
            ]
            lines.append("printf '@@FX:%s:DONE@@\\n' \"$N\"\n")
        (directory / "run.sh").write_text("\n".join(lines))

    def run(self, guests: Sequence[Guest], *, timeout: float = 360.0) -> dict[str, GuestResult]:
        """Boot ``guests`` together, run their steps, and return each one's results.

        The domains are defined and started one after the other, then run side by side. When
        a step ends, the host drops the event file ``GUEST.STEP`` that other guests' steps
        may wait for. The call returns when every guest has powered off, or after
        ``timeout`` seconds; every domain is destroyed and undefined before it returns.
        """
        names = [guest.name for guest in guests]
        if len(set(names)) != len(names):
            raise ValueError(f"two guests with one name: {names}")
        nonces = {guest.name: secrets.token_hex(4) for guest in guests}
        kernels = {guest.name: (guest.lab or self).kit.kernel_version for guest in guests}
        results = {guest.name: GuestResult(guest.name) for guest in guests}
        started: dict[str, float] = {}
        # libvirt appends each boot's QEMU log to the same file: keep only this boot's part
        log_start = {name: len(self.judge.qemu_log(name)) for name in names}
        try:
            for guest in guests:
                (guest.lab or self)._prepare(guest, nonces[guest.name])
            for guest in guests:
                begin = time.monotonic()
                verdict = self.judge.start(guest.xml)
                if verdict.ok:
                    started[guest.name] = begin
                else:
                    results[guest.name].start_error = verdict.message
            self._watch(started, nonces, results, time.monotonic() + timeout)
        finally:
            for name in names:
                if name in started:
                    self.judge.destroy(name)
                self.judge.undefine(name)
                results[name].qemu_log = self.judge.qemu_log(name)[log_start[name] :]
                if name in started:
                    kernel = kernels[name]
                    self.boots.append(
                        (name, results[name].ready_seconds, results[name].seconds, kernel)
                    )
        return results

    def _watch(
        self,
        started: Mapping[str, float],
        nonces: Mapping[str, str],
        results: dict[str, GuestResult],
        deadline: float,
    ) -> None:
        running = set(started)
        while running:
            now = time.monotonic()
            for name in sorted(running):
                result = results[name]
                console = self.console_path(name)
                text = console.read_bytes().decode("utf-8", "replace") if console.exists() else ""
                result.console = text.replace("\r\n", "\n")
                if result.ready_seconds is None and "@@FXINIT:READY:" in result.console:
                    result.ready_seconds = now - started[name]
                for step, outcome in parse_console(result.console, nonces[name]).items():
                    if step not in result.steps:
                        result.steps[step] = outcome
                        event = self.events / f"{name}.{step}"
                        event.write_text(f"{outcome.exit_code}\n")
                done = f"@@FX:{nonces[name]}:DONE@@" in result.console
                if "@@FXINIT:EXIT:" in result.console or "@@FXINIT:FAILED:" in result.console:
                    done = True
                if done or not self.judge.domstate(name).startswith(("running", "paused")):
                    result.finished = f"@@FX:{nonces[name]}:DONE@@" in result.console
                    result.seconds = now - started[name]
                    running.discard(name)
                    (self.events / f"{name}{ENDED}").write_text("ended\n")
            if running and time.monotonic() > deadline:
                for name in running:
                    results[name].seconds = time.monotonic() - started[name]
                return
            if running:
                time.sleep(0.2)

    def boot(self, xml: str, steps: Sequence[Step], *, timeout: float = 360.0) -> GuestResult:
        """One guest: :meth:`run` with a single domain."""
        guest = Guest(xml, steps)
        return self.run([guest], timeout=timeout)[guest.name]


# -- the product on the host ------------------------------------------------------------------


def famfs_xml(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python3 -m famfs_xml ARGS`` from the checkout under test (the same as the
    ``famfs-xml`` console script), as a separate process."""
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, "-m", "famfs_xml", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def make_backing(path: Path, size_mib: int, seed: Mapping[int, bytes] | None = None) -> Path:
    """A sparse file of ``size_mib`` MiB with ``seed`` bytes written at their offsets."""
    with path.open("wb") as handle:
        handle.truncate(size_mib * MiB)
        for offset, data in (seed or {}).items():
            handle.seek(offset)
            handle.write(data)
    return path


def attach_domains(
    lab: GuestLab,
    directory: Path,
    backing: Path,
    names: Sequence[str],
    *,
    options: Sequence[str] = (),
    edit_base: Callable[[str], str] | None = None,
    **base: Any,
) -> list[Path]:
    """Write :meth:`GuestLab.base_domain` for each name into ``directory`` (through
    ``edit_base`` when given), then run ``famfs-xml attach FILES --source BACKING --host
    OPTIONS`` on them all, as a user would. Returns the files.

    attach exits 1 when findings remain that it does not fix (e.g. a decimal unit it found in
    the base domain); that still counts as attached. Anything else raises RuntimeError.
    """
    paths = []
    for name in names:
        path = directory / f"{name}.xml"
        xml = lab.base_domain(name, **base)
        path.write_text(edit_base(xml) if edit_base else xml)
        paths.append(path)
    result = famfs_xml("attach", *map(str, paths), "--source", str(backing), "--host", *options)
    attached = all(f"{path}: attached {backing}" in result.stdout for path in paths)
    if result.returncode not in (0, 1) or not attached or "Traceback" in result.stderr:
        raise RuntimeError(
            f"famfs-xml attach failed (exit {result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return paths


# -- command line (for CI: fill the cache before the tests run) ------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", choices=["fetch", "initramfs", "show"])
    parser.add_argument("--cache", type=Path, default=None, help=f"default: ${CACHE_ENV}")
    parser.add_argument(
        "--kernel",
        choices=SUITES,
        default="host",
        help="host: the host's own Debian suite (Debian 12: Linux 6.1); sid: Debian sid's newest",
    )
    args = parser.parse_args(argv)
    try:
        kit = (
            GuestKit.fetch(args.cache, args.kernel)
            if args.action == "fetch"
            else GuestKit.load(args.cache, args.kernel)
        )
        if args.action in {"fetch", "initramfs"}:
            initramfs = kit.initramfs()
            print(f"initramfs: {initramfs} ({initramfs.stat().st_size // 1024} KiB)")
    except KitUnavailable as exc:
        print(f"guestlab: {exc}", file=sys.stderr)
        return 1
    print(f"kernel: {kit.kernel_package} ({kit.kernel_version}) {kit.vmlinuz}")
    print(f"busybox: {kit.busybox}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
