"""Fake ``daxctl`` and ``ndctl`` that replay the recorded behaviour of ndctl v81.

Shapes kept from the real tools: ``list`` prints a JSON array, a bare object with ``-u`` and
exactly one device, and nothing at all (exit 0) when there are no devices;
``reconfigure-device`` prints ``reconfigured N device(s)`` on stderr; errors exit with
``-errno & 0xff`` (EBUSY 240, ENXIO 250) and usage errors with 129. A successful run changes
the fake sysfs tree the way the kernel would (the ``driver`` link, the namespace mode).

Behaviours: ``normal``; ``liar`` (exit 0, claim success, change nothing); ``busy`` (EBUSY);
``offline-ebusy`` (system-ram -> devdax fails to offline memory, as in ndctl#256).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices_fake_machine import FakeMachine
from typer.testing import Result

EBUSY, ENXIO, EINVAL, USAGE = 240, 250, 234, 129
VERSION = "81"
DAX_USAGE = "\n usage: daxctl reconfigure-device <device> [<options>]\n"
OFFLINE_EBUSY = (
    "dax0.0: 8 memory sections already offline\n"
    "libdaxctl: offline_one_memblock: dax0.0: Failed to offline "
    "/sys/devices/system/node/node1/memory272/state: Device or resource busy\n"
    "dax0.0: failed to offline memory: Device or resource busy\n"
    "error reconfiguring devices: Device or resource busy\n"
    "reconfigured 0 devices\n"
)


def _print_json(items: list[dict[str, Any]], human: bool) -> None:
    if not items:
        return
    data: Any = items[0] if human and len(items) == 1 else items
    print(json.dumps(data, indent=2).replace("/", "\\/"))


def _int(path: Path) -> int:
    return int(path.read_text().strip(), 0)


def _dax_json(machine: FakeMachine, name: str) -> dict[str, Any]:
    device = machine.sys / "bus/dax/devices" / name
    mode = machine.dax_mode(name)
    entry: dict[str, Any] = {
        "chardev": name,
        "size": _int(device / "size"),
        "target_node": _int(device / "target_node"),
        "align": _int(device / "align"),
        "mode": "system-ram" if mode == "system-ram" else "devdax",
    }
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


def _online_memory(machine: FakeMachine, name: str) -> bool:
    device = machine.sys / "bus/dax/devices" / name
    memory = machine.sys / "devices/system/memory"
    if not (memory / "block_size_bytes").exists():
        return False
    block = int((memory / "block_size_bytes").read_text().strip(), 16)
    start, size = _int(device / "resource"), _int(device / "size")
    for index in range(start // block, (start + size) // block):
        state = memory / f"memory{index}/state"
        if state.exists() and state.read_text().startswith("online"):
            return True
    return False


def daxctl(machine: FakeMachine, behaviour: str, args: list[str]) -> int:
    if args[:1] == ["--version"]:
        print(VERSION)
        return 0
    if args[:1] == ["list"]:
        wanted = _option(args, "--dev", "-d")
        names = [n for n in _dax_names(machine) if wanted in (None, n)]
        _print_json([_dax_json(machine, n) for n in names], human="-u" in args)
        return 0
    if args[:1] == ["reconfigure-device"]:
        return _reconfigure(machine, behaviour, args[1:])
    sys.stderr.write(f"daxctl: '{args[0] if args else ''}' is not a daxctl command.\n")
    return 1


def _reconfigure(machine: FakeMachine, behaviour: str, args: list[str]) -> int:
    mode = _option(args, "--mode", "-m")
    if mode is None:
        sys.stderr.write("error: a 'align', 'mode' or 'size' option is required\n" + DAX_USAGE)
        return USAGE
    names = _positionals(args)
    force = "-f" in args or "--force" in args
    if not names or not (machine.sys / "bus/dax/devices" / names[0]).exists():
        sys.stderr.write(
            "error reconfiguring devices: No such device or address\nreconfigured 0 devices\n"
        )
        return ENXIO
    name = names[0]
    current = machine.dax_mode(name)
    if behaviour == "liar":
        _print_json([_dax_json(machine, name)], human=False)
        sys.stderr.write("reconfigured 1 device\n")
        return 0
    if behaviour == "busy":
        sys.stderr.write(
            "error reconfiguring devices: Device or resource busy\nreconfigured 0 devices\n"
        )
        return EBUSY
    if current == mode:
        sys.stderr.write(f"{name} was already in {mode} mode\nreconfigured 1 device\n")
        _print_json([_dax_json(machine, name)], human=False)
        return 0
    if current == "system-ram" and mode == "devdax" and _online_memory(machine, name):
        if not force:
            sys.stderr.write("reconfigured 0 devices\n")
            return EBUSY
        if behaviour == "offline-ebusy":
            sys.stderr.write(OFFLINE_EBUSY)
            return EBUSY
    machine.set_dax_mode(name, mode)
    _print_json([_dax_json(machine, name)], human=False)
    sys.stderr.write("reconfigured 1 device\n")
    return 0


def _namespace_json(machine: FakeMachine, name: str) -> dict[str, Any]:
    ns_dir = machine.sys / "bus/nd/devices" / name
    mode = machine.namespace_mode(name)
    region = name[len("namespace") :].split(".")[0]
    entry: dict[str, Any] = {"dev": name, "mode": mode}
    if mode in ("fsdax", "devdax"):
        entry["map"] = "dev"
    entry["size"] = _int(ns_dir / "size")
    entry["uuid"] = "8c2894ed-ba4a-45c5-bc1b-8b9fe8412f7e"
    if mode == "devdax":
        entry["chardev"] = f"dax{region}.0"
    else:
        entry["sector_size"] = 512
    entry["align"] = 2097152
    if mode != "devdax":
        entry["blockdev"] = f"pmem{region}"
    entry["numa_node"] = _int(ns_dir / "numa_node")
    entry["target_node"] = _int(ns_dir / "numa_node")
    return entry


def ndctl(machine: FakeMachine, behaviour: str, args: list[str]) -> int:
    if args[:1] == ["--version"]:
        print(VERSION)
        return 0
    names = sorted(p.name for p in (machine.sys / "bus/nd/devices").glob("namespace*"))
    if args[:1] == ["list"]:
        _print_json([_namespace_json(machine, n) for n in names], human="-u" in args)
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
            f"  Error: {target} is active, specify --force for re-configuration\n"
            "failed to reconfigure namespace: Device or resource busy\n"
        )
        return EBUSY
    if behaviour == "busy":
        sys.stderr.write("failed to reconfigure namespace: Device or resource busy\n")
        return EBUSY
    if behaviour != "liar":
        machine.set_namespace_mode(target, mode)
    print(json.dumps(_namespace_json(machine, target), indent=2).replace("/", "\\/"))
    return 0


def main(tool: str, config_path: str, args: list[str]) -> int:
    config = json.loads(Path(config_path).read_text())
    with open(config["log"], "a") as log:
        log.write(json.dumps([tool, *args]) + "\n")
    machine = FakeMachine(Path(config["root"]))
    run = daxctl if tool == "daxctl" else ndctl
    return run(machine, config["behaviour"], args)


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

    def behave(self, behaviour: str) -> None:
        self.config.write_text(
            json.dumps({"root": str(self.root), "behaviour": behaviour, "log": str(self.log)})
        )

    @property
    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def path(self, tool: str) -> str:
        return str(self.bin_dir / tool)
