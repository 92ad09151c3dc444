"""``host check``: the host side of the famfs VM guide, as findings FH001-FH011.

Each finding carries a ``hint``: the next command to run on this machine's distribution.

What the kernel makes of each ``memmap=`` form was measured in Linux 6.1 and 7.2 guests:
``nn!ss`` gives a legacy pmem namespace ("Persistent Memory (legacy)"), ``nn$ss`` a
"Reserved" range and no device at all, ``nn%ss+0xefffffff`` a soft-reserved range that
``dax_hmem`` offers as a dax device, on any firmware (``efi_fake_mem=``, gone in 6.11, made
the same range and needed EFI).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from famfs_xml.core.findings import Finding, Severity
from famfs_xml.core.inventory import BackingDevice
from famfs_xml.host.cmdline import (
    EFI_MEMORY_SP,
    MemmapRange,
    fake_mem_ranges,
    kernel_version,
    memmap_ranges,
    split_cmdline,
    unescape,
    values_of,
)
from famfs_xml.host.drivers import (
    FAMFS_MODE_KERNEL,
    FsdevDax,
    fsdev_dax,
    left_in_famfs_mode,
    return_hint,
)
from famfs_xml.host.grub import (
    GRUB_DEFAULTS,
    GrubDefaults,
    kernel_args_hint,
    pending_hint,
    removal_hint,
)
from famfs_xml.host.grub import read_grub_defaults as _read_grub
from famfs_xml.host.ram import RamMap, read_ram_map
from famfs_xml.host.sysfs import auto_online_policy, dax_devices, read_attr, under

RULES: dict[str, tuple[str, Severity]] = {
    "FH001": ("not-efi-boot", Severity.WARNING),
    "FH002": ("memmap-outside-ram", Severity.ERROR),
    "FH003": ("efi-fake-mem-removed", Severity.ERROR),
    "FH004": ("memory-auto-online", Severity.WARNING),
    "FH005": ("dax-system-ram", Severity.ERROR),
    "FH006": ("dax-unbound", Severity.ERROR),
    "FH007": ("cmdline-pending", Severity.WARNING),
    "FH008": ("memmap-unaligned", Severity.WARNING),
    "FH009": ("fsdev-dax-missing", Severity.WARNING),
    "FH010": ("memmap-reserved-no-device", Severity.WARNING),
    "FH011": ("dax-left-in-famfs-mode", Severity.WARNING),
}
CMDLINE = "/proc/cmdline"
PENDING_KEYS = ("memmap", "efi_fake_mem", "memhp_default_state")
EFI_FAKE_MEM_REMOVED_IN = (6, 11)
MEMMAP_ALIGN = 2 * 1024 * 1024
GiB = 1024**3
START_ALIGNMENTS = (GiB, 128 * 1024 * 1024, MEMMAP_ALIGN)


@dataclass(frozen=True)
class Param:
    """A kernel parameter (``$`` unescaped) and where it was found."""

    text: str
    source: str  # /proc/cmdline (running) or /etc/default/grub (configured)

    @property
    def where(self) -> str:
        return "on the running command line" if self.source == CMDLINE else f"in {self.source}"


@dataclass(frozen=True)
class HostState:
    root: Path
    running: tuple[str, ...]
    grub: GrubDefaults | None
    efi: bool
    kernel: tuple[int, int] | None
    auto_online: str | None
    dax: tuple[BackingDevice, ...]
    installed: tuple[str, ...] = ()  # releases of the kernels in /boot (vmlinuz-RELEASE)
    fsdev: FsdevDax | None = None  # the running kernel's fsdev_dax driver
    famfs_left: tuple[BackingDevice, ...] = ()  # dax devices in famfs mode, nothing mounted

    def params(self) -> list[Param]:
        """The running parameters, then configured ones the running kernel lacks."""
        running = [Param(unescape(p), CMDLINE) for p in self.running]
        seen = {p.text for p in running}
        grub_params = self.grub.params if self.grub else ()
        configured = [Param(unescape(p), GRUB_DEFAULTS) for p in grub_params]
        return running + [p for p in configured if p.text not in seen]

    def running_set(self) -> set[str]:
        return {unescape(p) for p in self.running}

    def configured_set(self) -> set[str]:
        return {unescape(p) for p in self.grub.params} if self.grub else set()

    def values(self, key: str) -> list[tuple[str, Param]]:
        return [(value, p) for p in self.params() for value in values_of([p.text], key)]


def read_host_state(root: Path = Path("/"), dax: list[BackingDevice] | None = None) -> HostState:
    """Everything the checks need, read under ``root``; ``dax`` defaults to sysfs's list."""
    release = read_attr(under(root, "/proc/sys/kernel/osrelease"))
    devices = dax_devices(root) if dax is None else dax
    return HostState(
        root=root,
        running=tuple(split_cmdline(read_attr(under(root, CMDLINE)) or "")),
        grub=_read_grub(root),
        efi=under(root, "/sys/firmware/efi").is_dir(),
        kernel=kernel_version(release) if release else None,
        auto_online=auto_online_policy(root),
        dax=tuple(devices),
        installed=installed_kernels(root),
        fsdev=fsdev_dax(root),
        famfs_left=tuple(left_in_famfs_mode(root, devices)),
    )


def installed_kernels(root: Path) -> tuple[str, ...]:
    """The releases of the kernels in /boot, as Debian, Fedora and Ubuntu install them."""
    boot = under(root, "/boot")
    try:
        names = sorted(path.name for path in boot.glob("vmlinuz-*"))
    except OSError:
        return ()
    return tuple(name.removeprefix("vmlinuz-") for name in names)


def _finding(code: str, path: str, message: str, hint: str | None) -> Finding:
    name, severity = RULES[code]
    return Finding(code, name, severity, path, 0, 0, message, hint=hint)


def _change_hint(state: HostState, old: str, new: str, edit: str) -> str:
    """Replace the parameter ``old`` by ``new`` (``edit`` says how in /etc/default/grub)."""
    if state.grub is not None and old not in state.configured_set():
        return removal_hint(state.root, old)
    return kernel_args_hint(state.root, new, edit, remove=old)


# --- the checks ---------------------------------------------------------------------------


def soft_reserved_memmap(value: str) -> str:
    """The ``memmap=`` that makes the dax devices an ``efi_fake_mem=`` value asked for: the
    same soft-reserved ranges, on any firmware and any kernel (6.1 and 7.2 measured)."""
    ranges = [r for r in fake_mem_ranges(value) if r.attribute & EFI_MEMORY_SP]
    if not ranges:
        return "memmap=<size>%<start>+0xefffffff"
    return " ".join(f"memmap={r.size_text}%{r.start_text}+0xefffffff" for r in ranges)


def _replace_efi_fake_mem_hint(state: HostState, value: str) -> str:
    new = soft_reserved_memmap(value)
    edit = f"replace efi_fake_mem={value} with {new} in {GRUB_DEFAULTS}"
    return _change_hint(state, f"efi_fake_mem={value}", new, edit)


NO_EFI_NEEDED = (
    "famfs needs no EFI: memmap=nn%ss+0xefffffff makes the same soft-reserved range, and its "
    "dax device, with any firmware"
)


def check_efi(state: HostState) -> list[Finding]:
    """FH001: efi_fake_mem= needs an EFI boot."""
    if state.efi:
        return []
    return [
        _finding(
            "FH001",
            param.source,
            f"efi_fake_mem={value} is {param.where}, but this host did not boot with EFI "
            f"(/sys/firmware/efi is absent), so it creates no dax device; {NO_EFI_NEEDED}",
            _replace_efi_fake_mem_hint(state, value),
        )
        for value, param in state.values("efi_fake_mem")
    ]


def _without_efi_fake_mem(state: HostState) -> str | None:
    """The kernel that ignores efi_fake_mem= (gone since Linux 6.11): the running one, or
    the newest in /boot, which the next boot normally starts; None when neither does."""
    if state.kernel is not None and state.kernel >= EFI_FAKE_MEM_REMOVED_IN:
        return "kernel " + ".".join(map(str, state.kernel))
    newest = max(
        ((version, release) for release in state.installed if (version := kernel_version(release))),
        default=None,
    )
    if newest is not None and newest[0] >= EFI_FAKE_MEM_REMOVED_IN:
        return f"kernel {newest[1]}, the newest in /boot and what the next boot normally starts,"
    return None


def check_efi_fake_mem_removed(state: HostState) -> list[Finding]:
    """FH003: efi_fake_mem= is gone since Linux 6.11."""
    kernel = _without_efi_fake_mem(state)
    if kernel is None:
        return []
    return [
        _finding(
            "FH003",
            param.source,
            f"efi_fake_mem={value} is {param.where}, but {kernel} no longer has "
            "efi_fake_mem (removed in 6.11): no dax device will appear; memmap=nn%ss+0xefffffff "
            "makes the same soft-reserved range, with or without EFI",
            _replace_efi_fake_mem_hint(state, value),
        )
        for value, param in state.values("efi_fake_mem")
    ]


def _memmap(state: HostState) -> list[tuple[MemmapRange, Param]]:
    """The ``memmap=`` regions that take RAM from the kernel, with where each was found."""
    return [
        (r, param)
        for value, param in state.values("memmap")
        for r in memmap_ranges(value)
        if r.carves_memory
    ]


def _free(ram: RamMap, taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The RAM ranges less the ``taken`` ones (inclusive ends, as memory maps write them)."""
    free = list(ram.ranges)
    for taken_low, taken_high in taken:
        left = []
        for low, high in free:
            if taken_high < low or high < taken_low:
                left.append((low, high))
                continue
            if low < taken_low:
                left.append((low, taken_low - 1))
            if taken_high < high:
                left.append((taken_high + 1, high))
        free = left
    return free


def _fitting_start(free: list[tuple[int, int]], size: int) -> int | None:
    """The highest start inside ``free`` RAM for ``size`` bytes, on the roundest boundary.

    1 GiB boundaries read best (``memmap=8G!33G``), but on a small machine none may fit:
    then a memory block (128 MiB), then the 2 MiB a devdax device needs.
    """
    for align in START_ALIGNMENTS:
        for low, high in sorted(free, key=lambda r: r[1], reverse=True):
            start = (high + 1 - size) // align * align
            if start >= low:
                return start
    return None


def _hint_start(ram: RamMap, memmap: MemmapRange, ranges: list[MemmapRange]) -> int | None:
    """Where a range of ``memmap``'s size fits: in RAM that no other ``memmap=`` range holds.

    The firmware map still counts the other ranges as RAM. A hint that overlapped one would
    cost a device its memory (measured on 6.1: the later range takes the overlap, and the
    earlier device shrinks to what is left).
    """
    others = [(r.start, r.end) for r in ranges if (r.start, r.end) != (memmap.start, memmap.end)]
    return _fitting_start(_free(ram, others), memmap.size)


def _short(size: int) -> str:
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if size and size % (1 << shift) == 0:
            return f"{size >> shift}{unit}"
    return str(size)


def check_memmap_in_ram(state: HostState) -> list[Finding]:
    """FH002: a memmap=nn!ss / nn$ss range outside System RAM."""
    found = []
    ranges = _memmap(state)
    for memmap, param in ranges:
        ram = read_ram_map(state.root, reserved_too=memmap.kind != "protected")
        if ram is None or ram.contains(memmap.start, memmap.end):
            continue
        start = _hint_start(ram, memmap, [r for r, _ in ranges])
        better = (
            f"memmap={memmap.moved(_short(memmap.size), _short(start))}"
            if start is not None
            else None
        )
        old = f"memmap={memmap.text}"
        hint = (
            _change_hint(state, old, better, f"use {better} instead in {GRUB_DEFAULTS}")
            if better
            else "this machine has no System RAM range that large: use a smaller size"
        )
        found.append(
            _finding(
                "FH002",
                param.source,
                f"memmap={memmap.text} ({param.where}) covers {memmap.start:#x}-{memmap.end:#x}, "
                f"which is not inside System RAM ({ram.source}; RAM ends at {ram.top:#x}); Linux "
                "does not check this, and the device is slow and does not work",
                hint,
            )
        )
    return found


def check_memmap_alignment(state: HostState) -> list[Finding]:
    """FH008: memmap= start or size not 2 MiB aligned."""
    return [
        _finding(
            "FH008",
            param.source,
            f"memmap={memmap.text} ({param.where}): start {memmap.start:#x} or size "
            f"{memmap.size} is not a multiple of 2 MiB, which a devdax device needs",
            _change_hint(
                state,
                f"memmap={memmap.text}",
                "memmap=<size>!<start>",
                f"round memmap={memmap.text} to 2 MiB boundaries in {GRUB_DEFAULTS}",
            ),
        )
        for memmap, param in _memmap(state)
        if memmap.start % MEMMAP_ALIGN or memmap.size % MEMMAP_ALIGN
    ]


def check_memmap_reserved(state: HostState) -> list[Finding]:
    """FH010: ``memmap=nn$ss`` reserves memory and makes no device of it."""
    found = []
    for memmap, param in _memmap(state):
        if memmap.kind != "reserved":
            continue
        size, start = _short(memmap.size), _short(memmap.start)
        dax, pmem = f"memmap={size}%{start}+0xefffffff", f"memmap={size}!{start}"
        origin = state.grub.env_origin(param.text) if state.grub is not None else None
        where = param.where + (f", set by ${origin[0]} of {origin[1]}" if origin else "")
        found.append(
            _finding(
                "FH010",
                param.source,
                f"memmap={memmap.text} ({where}) only reserves {memmap.start:#x}-"
                f"{memmap.end:#x}: the kernel shows it as 'Reserved' in /proc/iomem and makes "
                "no dax or pmem device of it (Linux 6.1 and 7.2 alike), so famfs gets nothing; "
                f"{dax} makes a dax device of the range (soft-reserved, for dax_hmem), {pmem} a "
                "pmem namespace to convert to devdax",
                _reserved_hint(state, param, memmap, dax, origin),
            )
        )
    return found


def _reserved_hint(
    state: HostState, param: Param, memmap: MemmapRange, new: str, origin: tuple[str, str] | None
) -> str:
    if origin is not None:
        variable, grubenv = origin
        value = new.partition("=")[2]
        editenv = "grub2-editenv" if grubenv.startswith("/boot/grub2/") else "grub-editenv"
        return f"{editenv} {grubenv} set {variable}='{value}', then reboot"
    old = f"memmap={memmap.text}"
    return _change_hint(state, old, new, f"use {new} instead of {old} in {GRUB_DEFAULTS}")


def check_fsdev_dax(state: HostState) -> list[Finding]:
    """FH009: a kernel on which famfs mounts only in famfs mode, without fsdev_dax."""
    if state.kernel is None or state.kernel < FAMFS_MODE_KERNEL:
        return []
    if state.fsdev is None or state.fsdev.available:
        return []
    return [
        _finding(
            "FH009",
            "/sys/bus/dax/drivers/fsdev_dax",
            f"{state.fsdev.missing_reason()}; from Linux 7.0 on famfs mounts a dax device only "
            "in famfs mode (bound to fsdev_dax), so famfs cannot mount here",
            "boot a kernel built with CONFIG_DEV_DAX_FSDEV=m or =y (Debian's Linux 7.2 has "
            "fsdev_dax.ko), or install its modules: modprobe fsdev_dax must find it",
        )
    ]


def check_left_in_famfs_mode(state: HostState) -> list[Finding]:
    """FH011: a dax device in famfs mode that nothing is mounted from."""
    return [
        _finding(
            "FH011",
            f"/sys/bus/dax/devices/{device.path.rsplit('/', 1)[-1]}",
            f"{device.path} is in famfs mode (bound to fsdev_dax) and no file system is mounted "
            "from it: a famfs mkfs or mount that failed half way leaves a device so, and "
            "nothing can map it (mmap fails with ENODEV) until it is back in devdax mode",
            return_hint(device) + " (famfs mount switches it to famfs mode again itself)",
        )
        for device in state.famfs_left
    ]


def check_auto_online(state: HostState) -> list[Finding]:
    """FH004: dax memory would be onlined (and zeroed) by the kernel."""
    soft_reserved = any(memmap.kind == "soft-reserved" for memmap, _ in _memmap(state))
    if not state.dax and not state.values("efi_fake_mem") and not soft_reserved:
        return []
    running = values_of(list(state.running), "memhp_default_state")
    if state.auto_online is not None:
        if state.auto_online == "offline":
            return []
        why = f"auto_online_blocks is {state.auto_online!r}"
    elif running[-1:] == ["offline"]:
        return []
    else:
        why = "memhp_default_state=offline is not on the kernel command line"
    wanted = "memhp_default_state=offline"
    configured = wanted in state.configured_set() and wanted not in state.running_set()
    hint = (
        pending_hint(state.root, wanted) if configured else kernel_args_hint(state.root, wanted)
    ) + ("; for the running system: echo offline > /sys/devices/system/memory/auto_online_blocks")
    return [
        _finding(
            "FH004",
            "/sys/devices/system/memory/auto_online_blocks",
            f"{why}: the kernel onlines dax memory as system RAM, zeroing any shared contents",
            hint,
        )
    ]


def _convert_hint(device: BackingDevice) -> str:
    name = device.path.rsplit("/", 1)[-1]
    return f"famfs-xml device convert {name} --mode devdax (review the plan, then add --yes)"


def check_dax_modes(state: HostState) -> list[Finding]:
    """FH005/FH006: dax devices in system-ram mode or with no driver."""
    found = []
    for device in state.dax:
        sysfs = f"/sys/bus/dax/devices/{device.path.rsplit('/', 1)[-1]}"
        if device.mode == "system-ram":
            found.append(
                _finding(
                    "FH005",
                    sysfs,
                    f"{device.path} is in system-ram mode (the kmem driver): famfs and QEMU "
                    "need devdax (famfs mounts in famfs mode, which it reaches from devdax)",
                    _convert_hint(device),
                )
            )
        elif device.mode == "unbound":
            found.append(
                _finding(
                    "FH006",
                    sysfs,
                    f"{device.path} has no driver bound: it cannot be used",
                    _convert_hint(device),
                )
            )
    return found


def check_pending(state: HostState) -> list[Finding]:
    """FH007: /etc/default/grub asks for parameters the running kernel lacks.

    An efi_fake_mem= that FH003 reports is left out: rebooting would not bring it to life.
    """
    running = state.running_set()
    keys: tuple[str, ...] = PENDING_KEYS
    if _without_efi_fake_mem(state) is not None:
        keys = tuple(key for key in PENDING_KEYS if key != "efi_fake_mem")
    return [
        _finding(
            "FH007",
            GRUB_DEFAULTS,
            f"{GRUB_DEFAULTS} sets {param.text}, but the running kernel's {CMDLINE} lacks it: "
            "the grub config was not regenerated, or a reboot is pending",
            pending_hint(state.root, param.text),
        )
        for param in state.params()
        if param.source == GRUB_DEFAULTS
        and param.text not in running
        and param.text.split("=", 1)[0] in keys
    ]


CHECKS: tuple[Callable[[HostState], list[Finding]], ...] = (
    check_efi,
    check_memmap_in_ram,
    check_efi_fake_mem_removed,
    check_auto_online,
    check_dax_modes,
    check_pending,
    check_memmap_alignment,
    check_fsdev_dax,
    check_memmap_reserved,
    check_left_in_famfs_mode,
)


def check_host(root: Path = Path("/"), state: HostState | None = None) -> list[Finding]:
    """Run FH001-FH011 against the machine under ``root``; findings ordered by code."""
    state = state or read_host_state(root)
    findings = [finding for check in CHECKS for finding in check(state)]
    return sorted(findings, key=lambda f: f.code)
