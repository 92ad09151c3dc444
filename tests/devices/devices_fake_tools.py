"""Fake ``daxctl`` and ``ndctl`` that replay what the real tools do.

What they print, and when they refuse, was recorded from ndctl/daxctl 76.1 in a Debian 12
guest on kernel 6.1 (``tests/devices/guest-recordings.md``), and from ndctl/daxctl 85 in
Debian sid guests on Linux 7.2 for famfs mode; where a case was not recorded, the source is
ndctl's code, and the comment says so. ``version`` picks the daxctl: ``76.1`` (the default)
or ``85``. Shapes kept from the real tools:

- ``list`` prints a JSON array, a bare object with ``-u`` and exactly one entry, and nothing
  at all (exit 0) when there is nothing to list; without ``-i`` disabled namespaces and
  devices are left out (a disabled namespace is ``"state":"disabled"`` with ``-i``);
- ``ndctl list`` lists namespaces newest first: namespace0.1 before namespace0.0, and
  namespace1.0 before both (source: the guest);
- no NUMA node (a ``memmap=`` range beyond RAM): ``numa_node`` and ``target_node`` are left
  out, and the dax device has no ``target_node`` attribute (source: the guest);
- keys appear as the real tools print them: no ``uuid`` or ``align`` for a label-less raw
  namespace, ``daxregion`` with ``-v`` and ``chardev`` without it for devdax, sizes of
  fsdax/devdax namespaces are the device's size (62 MiB of a 64 MiB namespace);
- ``reconfigure-device`` prints ``reconfigured N device(s)`` on stderr; errors exit with
  ``-errno & 0xff`` (EBUSY 240, ENXIO 250, EINVAL 234) and usage errors with 129;
- a successful run changes the fake sysfs tree as the kernel would (the ``driver`` link, the
  namespace's claim, memory blocks coming online or going away).

famfs mode (a device bound to ``fsdev_dax``; source: the 7.2 guests): daxctl 85 lists it as
``"mode":"famfs"``, converts devdax or an unbound device to it (``reconfigured 1 device``,
also famfs -> famfs), back to devdax, and from famfs to system-ram directly; it refuses
system-ram -> famfs (``must be in devdax mode``, EINVAL, with or without ``-f``) and
``--no-online`` with famfs (usage, 129). daxctl 76.1 lists the device as ``devdax``, answers
``--mode=famfs`` with ``unknown mode requested: 0`` (EINVAL), and ``--mode=devdax`` with
``was already in devdax mode``, exit 0, changing nothing.

Behaviours: ``normal``; ``liar`` (exit 0, claim success, change nothing); ``busy`` (EBUSY);
``offline-ebusy`` (system-ram -> devdax fails to offline memory, as in ndctl#256).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices_fake_machine import (
    NS_ATTR_MODE,
    FakeMachine,
    blockdev_name,
    namespace_ids,
    write,
)
from typer.testing import Result

EBUSY, ENXIO, EINVAL, USAGE = 240, 250, 234, 129
VERSION = "76.1"
FAMFS_VERSION = "85"
UNKNOWN_MODE = (
    "{name}: unknown mode requested: 0\n"
    "error reconfiguring devices: Invalid argument\n"
    "reconfigured 0 devices\n"
)
RAM_TO_FAMFS = (
    "{name} is in system-ram mode; must be in devdax mode to convert to famfs\n"
    "error reconfiguring devices: Invalid argument\n"
    "reconfigured 0 devices\n"
)
NO_ONLINE_FAMFS = "--no-online is incompatible with --mode=famfs\n"


def knows_famfs(version: str) -> bool:
    return int(version.split(".")[0]) >= int(FAMFS_VERSION)


DAX_USAGE = "\n usage: daxctl reconfigure-device <device> [<options>]\n"
OFFLINE_EBUSY = (
    "dax0.0: 8 memory sections already offline\n"
    "libdaxctl: offline_one_memblock: dax0.0: Failed to offline "
    "/sys/devices/system/node/node1/memory272/state: Device or resource busy\n"
    "dax0.0: failed to offline memory: Device or resource busy\n"
    "error reconfiguring devices: Device or resource busy\n"
    "reconfigured 0 devices\n"
)
# Recorded in the guest: a 62 MiB device with 128 MiB memory blocks. The kernel logs
# "kmem dax0.0: rejecting DAX region without any memory after alignment" and the device is
# left with no driver.
NO_WHOLE_BLOCK = (
    "libdaxctl: daxctl_dev_enable: {name}: failed to enable\n"
    "error reconfiguring devices: Invalid argument\n"
    "reconfigured 0 devices\n"
)
AUTO_ONLINE = (
    "{name}: error: kernel policy will auto-online memory, aborting\n"
    "error reconfiguring devices: Device or resource busy\n"
    "reconfigured 0 devices\n"
)
STILL_ONLINE = "error reconfiguring devices: Device or resource busy\nreconfigured 0 devices\n"
NDCTL_BUSY = "failed to reconfigure namespace: Device or resource busy\n"
NDCTL_EINVAL = "failed to reconfigure namespace: Invalid argument\n"


def _print_json(items: list[dict[str, Any]], human: bool) -> None:
    if not items:
        return
    data: Any = items[0] if human and len(items) == 1 else items
    print(json.dumps(data, indent=2).replace("/", "\\/"))


def _int(path: Path) -> int:
    return int(path.read_text().strip(), 0)


# --- what the tools read from sysfs -----------------------------------------------------


def _block_size(machine: FakeMachine) -> int | None:
    path = machine.sys / "devices/system/memory/block_size_bytes"
    return int(path.read_text().strip(), 16) if path.exists() else None


def _whole_blocks(machine: FakeMachine, name: str) -> range:
    """The memory blocks that lie wholly inside the device, as kmem aligns its range."""
    device = machine.sys / "bus/dax/devices" / name
    block = _block_size(machine)
    if block is None:
        return range(0)
    start, end = _int(device / "resource"), _int(device / "resource") + _int(device / "size")
    return range(-(-start // block), end // block)


def _online_blocks(machine: FakeMachine, name: str) -> int:
    memory = machine.sys / "devices/system/memory"
    count = 0
    for index in _whole_blocks(machine, name):
        state = memory / f"memory{index}/state"
        if state.exists() and state.read_text().startswith("online"):
            count += 1
    return count


def _movable(machine: FakeMachine, name: str) -> bool:
    """Whether the device's memory blocks are in ZONE_MOVABLE (``valid_zones``)."""
    memory = machine.sys / "devices/system/memory"
    zones = [memory / f"memory{index}/valid_zones" for index in _whole_blocks(machine, name)]
    return all(not z.exists() or z.read_text().strip() == "Movable" for z in zones)


def _seen_mode(machine: FakeMachine, name: str, version: str) -> str | None:
    """The mode as this daxctl sees it: 76.1 takes fsdev_dax for devdax (the 7.2 guest)."""
    mode = machine.dax_mode(name)
    return "devdax" if mode == "famfs" and not knows_famfs(version) else mode


def _dax_json(machine: FakeMachine, name: str, version: str = VERSION) -> dict[str, Any]:
    device = machine.sys / "bus/dax/devices" / name
    mode = _seen_mode(machine, name, version)
    entry: dict[str, Any] = {"chardev": name, "size": _int(device / "size")}
    if (device / "target_node").exists():  # a device with no node has none (source: the guest)
        entry["target_node"] = _int(device / "target_node")
    entry["align"] = _int(device / "align")
    entry["mode"] = mode if mode in ("system-ram", "famfs") else "devdax"
    if mode == "system-ram":
        entry["online_memblocks"] = _online_blocks(machine, name)
        entry["total_memblocks"] = len(_whole_blocks(machine, name))
        entry["movable"] = _movable(machine, name)
    if mode is None:
        entry["state"] = "disabled"
    return entry


def _dax_names(machine: FakeMachine) -> list[str]:
    return sorted(p.name for p in (machine.sys / "bus/dax/devices").iterdir())


def _option(args: list[str], long: str, short: str) -> str | None:
    for index, arg in enumerate(args):
        if arg.startswith(f"{long}="):
            return arg.split("=", 1)[1]
        if arg in (long, short) and index + 1 < len(args):
            return args[index + 1]
    return None


def _positionals(args: list[str]) -> list[str]:
    skip, found = False, []
    for arg in args:
        if skip:
            skip = False
        elif arg in ("-m", "--mode", "-d", "-r"):
            skip = True
        elif not arg.startswith("-"):
            found.append(arg)
    return found


# --- daxctl ------------------------------------------------------------------------------


def daxctl(machine: FakeMachine, behaviour: str, args: list[str], version: str = VERSION) -> int:
    if args[:1] == ["--version"]:
        print(version)
        return 0
    if args[:1] == ["list"]:
        wanted = _option(args, "--dev", "-d")
        idle = "-i" in args or "--idle" in args
        names = [
            n
            for n in _dax_names(machine)
            if wanted in (None, n) and (idle or machine.dax_mode(n) is not None)
        ]
        _print_json([_dax_json(machine, n, version) for n in names], human="-u" in args)
        return 0
    if args[:1] == ["reconfigure-device"]:
        return _reconfigure(machine, behaviour, args[1:], version)
    sys.stderr.write(f"daxctl: '{args[0] if args else ''}' is not a daxctl command.\n")
    return 1


def _reconfigure(machine: FakeMachine, behaviour: str, args: list[str], version: str) -> int:
    mode = _option(args, "--mode", "-m")
    if mode is None:
        sys.stderr.write("error: a 'align', 'mode' or 'size' option is required\n" + DAX_USAGE)
        return USAGE
    famfs = knows_famfs(version)
    if mode == "famfs" and famfs and ("-N" in args or "--no-online" in args):
        sys.stderr.write(NO_ONLINE_FAMFS + DAX_USAGE)  # source: the 7.2 guest
        return USAGE
    names = _positionals(args)
    force = "-f" in args or "--force" in args
    if not names or not (machine.sys / "bus/dax/devices" / names[0]).exists():
        sys.stderr.write(
            "error reconfiguring devices: No such device or address\nreconfigured 0 devices\n"
        )
        return ENXIO
    name = names[0]
    current = _seen_mode(machine, name, version)
    if mode not in ("devdax", "system-ram") and not (mode == "famfs" and famfs):
        sys.stderr.write(UNKNOWN_MODE.format(name=name))  # source: the 7.2 guest, 76.1 and 85
        return EINVAL
    if behaviour == "liar":
        _print_json([_dax_json(machine, name, version)], human=False)
        sys.stderr.write("reconfigured 1 device\n")
        return 0
    if behaviour == "busy":
        sys.stderr.write(
            "error reconfiguring devices: Device or resource busy\nreconfigured 0 devices\n"
        )
        return EBUSY
    if mode == "famfs":
        return _to_famfs(machine, name, current, version)
    if current == mode:
        sys.stderr.write(f"{name} was already in {mode} mode\nreconfigured 1 device\n")
        _print_json([_dax_json(machine, name, version)], human=False)
        return 0
    if mode == "system-ram":
        return _to_system_ram(machine, name, force, version)
    if current == "system-ram" and _online_blocks(machine, name):
        if not force:
            sys.stderr.write(STILL_ONLINE)  # source: the guest, without -f
            return EBUSY
        if behaviour == "offline-ebusy":
            sys.stderr.write(OFFLINE_EBUSY)
            return EBUSY
    if current == "system-ram":
        _remove_blocks(machine, name)
    machine.set_dax_mode(name, mode)
    _print_json([_dax_json(machine, name, version)], human=False)
    sys.stderr.write("reconfigured 1 device\n")
    return 0


def _to_famfs(machine: FakeMachine, name: str, current: str | None, version: str) -> int:
    """daxctl 85 (source: the 7.2 guest): from devdax, unbound or famfs; never system-ram."""
    if current == "system-ram":
        sys.stderr.write(RAM_TO_FAMFS.format(name=name))
        return EINVAL
    machine.set_dax_mode(name, "famfs")
    _print_json([_dax_json(machine, name, version)], human=False)
    sys.stderr.write("reconfigured 1 device\n")
    return 0


def _auto_online(machine: FakeMachine) -> bool:
    policy = machine.sys / "devices/system/memory/auto_online_blocks"
    return policy.exists() and policy.read_text().startswith("online")


def _to_system_ram(machine: FakeMachine, name: str, force: bool, version: str) -> int:
    if _auto_online(machine) and not force:
        sys.stderr.write(AUTO_ONLINE.format(name=name))  # source: the guest
        return EBUSY
    blocks = _whole_blocks(machine, name)
    if not blocks:
        machine.set_dax_mode(name, None)  # the device_dax driver is gone, kmem refused it
        sys.stderr.write(NO_WHOLE_BLOCK.format(name=name))
        return EINVAL
    memory = machine.sys / "devices/system/memory"
    for index in blocks:  # daxctl onlines the new blocks itself (movable)
        write(memory / f"memory{index}/state", "online\n")
        write(memory / f"memory{index}/valid_zones", "Movable\n")
    machine.set_dax_mode(name, "system-ram")
    _print_json([_dax_json(machine, name, version)], human=False)
    sys.stderr.write("reconfigured 1 device\n")
    return 0


def _remove_blocks(machine: FakeMachine, name: str) -> None:
    """Unbinding kmem offlines and removes the device's memory blocks."""
    memory = machine.sys / "devices/system/memory"
    for index in _whole_blocks(machine, name):
        block = memory / f"memory{index}"
        if block.is_dir():
            for attribute in block.iterdir():
                attribute.unlink()
            block.rmdir()


# --- ndctl -------------------------------------------------------------------------------


class _NamespaceView:
    """One namespace as ndctl reads it from sysfs."""

    def __init__(self, machine: FakeMachine, name: str, version: str = VERSION) -> None:
        self.machine = machine
        self.name = name
        self.version = version
        self.dir = machine.namespace_dir(name)
        holder = (self.dir / "holder").read_text().strip()
        self.claim = self.dir.parent / holder if holder else None
        self.mode = NS_ATTR_MODE[(self.dir / "mode").read_text().strip()]
        self.labelled = (self.dir / "nstype").read_text().strip() == "5"
        self.legacy = "e820" in str(self.dir)

    @property
    def enabled(self) -> bool:
        if (self.dir / "driver").is_symlink():
            return True
        return self.claim is not None and (self.claim / "driver").is_symlink()

    @property
    def size(self) -> int:
        if self.claim is not None:
            return _int(self.claim / "size")
        return _int(self.dir / "size")

    @property
    def map(self) -> str:
        """Where the page metadata lives: the claim says (a legacy namespace converted to
        devdax gets map=dev); a legacy namespace on its own keeps it in RAM (the guest)."""
        if self.claim is not None:
            return "mem" if (self.claim / "mode").read_text().strip() == "ram" else "dev"
        return "mem" if self.legacy else "dev"

    @property
    def chardev(self) -> str | None:
        if self.claim is None:
            return None
        found = sorted(p.name for p in self.claim.glob("dax*.*"))
        return found[0] if found else None

    def to_json(self, verbose: bool) -> dict[str, Any]:
        entry: dict[str, Any] = {"dev": self.name, "mode": self.mode}
        if self.mode in ("fsdax", "devdax"):
            entry["map"] = self.map
        entry["size"] = self.size
        if self.labelled or (self.claim is not None):
            entry["uuid"] = "4992c6d9-7c19-4dc7-af56-e52f33c61846"
            if self.size == 0:
                entry["uuid"] = "00000000-0000-0000-0000-000000000000"
        if verbose and self.labelled and self.size:
            entry["raw_uuid"] = "a47d565d-94fb-4424-b3c5-f1e4a8ccae3a"
        chardev = self.chardev
        if chardev is not None and verbose:
            entry["daxregion"] = self._daxregion(chardev)
        elif chardev is not None:
            entry["chardev"] = chardev
        if self.mode != "devdax":
            entry["sector_size"] = 512
        if self.claim is not None:
            entry["align"] = _int(self.claim / "align")
        if self.enabled and self.mode != "devdax":
            entry["blockdev"] = blockdev_name(self.name)
        if not self.enabled:
            entry["state"] = "disabled"
        if verbose and _int(self.dir / "numa_node") >= 0:  # no node (-1): left out (the guest)
            entry["numa_node"] = _int(self.dir / "numa_node")
            entry["target_node"] = _int(self.dir / "numa_node")
        return entry

    def _daxregion(self, chardev: str) -> dict[str, Any]:
        assert self.claim is not None
        device = _dax_json(self.machine, chardev, self.version)
        region = self.claim / "dax_region"
        return {
            "id": _int(region / "id"),
            "size": device["size"],
            "align": device["align"],
            "devices": [device],
        }


def _namespace_names(machine: FakeMachine) -> list[str]:
    """Newest first: the last region first (namespace1.0 before namespace0.0, with two
    memmap= ranges), each region's namespaces newest first (source: the guest)."""
    names = [p.name for p in (machine.sys / "bus/nd/devices").glob("namespace*")]
    return sorted(names, key=lambda n: (-namespace_ids(n)[0], -namespace_ids(n)[1]))


def ndctl(machine: FakeMachine, behaviour: str, args: list[str], version: str = VERSION) -> int:
    if args[:1] == ["--version"]:
        print(version)
        return 0
    names = _namespace_names(machine)
    if args[:1] == ["list"]:
        idle = "-i" in args or "--idle" in args
        verbose = "-v" in args or "--verbose" in args
        views = [_NamespaceView(machine, n, version) for n in names]
        entries = [v.to_json(verbose) for v in views if idle or v.enabled]
        _print_json(entries, human="-u" in args)
        return 0
    if args[:1] == ["create-namespace"]:
        return _create_namespace(machine, behaviour, args[1:], names)
    sys.stderr.write(f"ndctl: '{args[0] if args else ''}' is not an ndctl command.\n")
    return 1


def _create_namespace(
    machine: FakeMachine, behaviour: str, args: list[str], names: list[str]
) -> int:
    target = _option(args, "--reconfig", "-e")
    mode = _option(args, "--mode", "-m")
    if target is None or mode is None:
        sys.stderr.write("\n usage: ndctl create-namespace [<options>]\n")
        return USAGE
    if mode not in ("raw", "fsdax", "devdax", "sector"):
        sys.stderr.write(f"  Error: invalid mode '{mode}'\n")
        return EINVAL
    if target not in names:
        sys.stderr.write("failed to reconfigure namespace: No such device or address\n")
        return ENXIO
    if "--force" not in args and "-f" not in args:
        sys.stderr.write(
            f"  Error: {target} is active, specify --force for re-configuration\n{NDCTL_BUSY}"
        )
        return EBUSY
    view = _NamespaceView(machine, target)
    refused = _reconfig_refusal(machine, view, mode, behaviour)
    if refused is not None:
        message, code = refused
        sys.stderr.write(message)
        return code
    if behaviour != "liar":
        machine.set_namespace_mode(target, mode)
    print(json.dumps(_NamespaceView(machine, target).to_json(True), indent=2).replace("/", "\\/"))
    return 0


def _reconfig_refusal(
    machine: FakeMachine, view: _NamespaceView, mode: str, behaviour: str
) -> tuple[str, int] | None:
    """Why real ndctl stops before changing anything (source: the guest)."""
    if view.size == 0:
        return f"  Error: '--size=' must be >= 16MiB for '{mode}' mode\n\n{NDCTL_EINVAL}", EINVAL
    start = _int(view.dir / "resource")
    if not view.enabled and (start | _int(view.dir / "size")) % (2 * 1024 * 1024):
        return (
            f"  Error: create namespace: region{namespace_ids(view.name)[0]}: align setting is "
            f"0x1000000 size {_int(view.dir / 'size'):#x} is misaligned\n\n"
        ), EINVAL
    chardev = view.chardev
    if chardev is not None and machine.dax_mode(chardev) == "system-ram":
        return NDCTL_BUSY, EBUSY
    if behaviour == "busy" or _mounted(machine, view):
        return NDCTL_BUSY, EBUSY
    return None


def _mounted(machine: FakeMachine, view: _NamespaceView) -> bool:
    """ndctl's O_EXCL open of the block device fails while it is mounted (source: the guest)."""
    device = f"/dev/{blockdev_name(view.name)}"
    mounts = (machine.root / "proc/mounts").read_text().split("\n")
    return any(line.split(" ")[0] == device for line in mounts if line)


def main(tool: str, config_path: str, args: list[str]) -> int:
    config = json.loads(Path(config_path).read_text())
    with open(config["log"], "a") as log:
        log.write(json.dumps([tool, *args]) + "\n")
    machine = FakeMachine(Path(config["root"]))
    run = daxctl if tool == "daxctl" else ndctl
    return run(machine, config["behaviour"], args, config.get("version", VERSION))


Cli = Callable[..., Result]
"""``cli("devices", "--json")``: run the device commands on a fresh app."""

HERE = Path(__file__).resolve().parent
SCRIPT = """#!{python}
import sys
sys.path.insert(0, {here!r})
from devices_fake_tools import main
sys.exit(main({tool!r}, {config!r}, sys.argv[1:]))
"""


class FakeTools:
    """Fake daxctl/ndctl first on PATH; every call is logged."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.log = bin_dir / "calls.jsonl"
        self.config = bin_dir / "fake-tools.json"
        self.root = root
        self.behave("normal")
        for tool in ("daxctl", "ndctl"):
            script = bin_dir / tool
            script.write_text(
                SCRIPT.format(
                    python=sys.executable, here=str(HERE), tool=tool, config=str(self.config)
                )
            )
            script.chmod(0o755)

    def behave(self, behaviour: str, version: str = VERSION) -> None:
        """How the tools behave (see the module), and which daxctl/ndctl they are."""
        self.config.write_text(
            json.dumps(
                {
                    "root": str(self.root),
                    "behaviour": behaviour,
                    "log": str(self.log),
                    "version": version,
                }
            )
        )

    @property
    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def path(self, tool: str) -> str:
        return str(self.bin_dir / tool)
