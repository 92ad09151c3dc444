"""``device convert``: a careful wrapper over daxctl/ndctl mode changes.

:func:`plan` looks at the device and says what would happen; :func:`execute` runs the
command and then re-reads sysfs, because ``daxctl`` can exit 0 having changed nothing.

A plan has one step or two: system-ram and famfs mode change into each other only through
devdax (daxctl 85 refuses system-ram -> famfs: "must be in devdax mode to convert to famfs").
A step into or out of famfs mode runs daxctl's ``--mode=famfs`` where the installed daxctl
has it, else the sysfs writes famfs and libdaxctl make (:mod:`famfs_xml.host.drivers`).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from famfs_xml.core.units import human
from famfs_xml.host import preflight
from famfs_xml.host.data_effects import dax_effect, future_path, keeps_data, namespace_effect
from famfs_xml.host.drivers import (
    MODE_DRIVERS,
    Daxctl,
    Rebind,
    SysfsWriter,
    fsdev_dax,
    installed_daxctl,
    write_attribute,
)
from famfs_xml.host.preflight import PreflightFinding
from famfs_xml.host.sysfs import (
    Namespace,
    auto_online_policy,
    dax_device,
    dax_mode,
    dax_ranges,
    memory_block_size,
    namespace_from_sysfs,
    namespaces_from_sysfs,
    online_blocks_in_range,
    read_int,
    under,
    whole_blocks,
)
from famfs_xml.host.tools import ToolResult, reconfigured_count, run_tool

DAX_MODES = ("devdax", "system-ram", "famfs")
NAMESPACE_MODES = ("devdax", "fsdax")
MODES = ("devdax", "system-ram", "famfs", "fsdax")
DEFAULT_TIMEOUT = 120.0

_DAX = re.compile(r"(?:/dev/)?(dax\d+\.\d+)")
_NAMESPACE = re.compile(r"namespace\d+\.\d+")
_PMEM = re.compile(r"(?:/dev/)?(pmem\d+(?:\.\d+)?s?)")


class ConvertUsageError(ValueError):
    """The device name or the mode cannot be used for a conversion."""


@dataclass(frozen=True)
class Action:
    """One step of a plan: a daxctl/ndctl command, or a rebinding through sysfs."""

    mode: str  # the mode the device is in after this step
    argv: tuple[str, ...] = ()
    rebind: Rebind | None = None
    why: str = ""  # why sysfs and not daxctl

    @property
    def via(self) -> str:
        return "sysfs" if self.rebind is not None else self.argv[0]

    @property
    def command_line(self) -> str:
        if self.rebind is not None:
            return "; ".join(self.rebind.shell_lines())
        return shlex.join(self.argv)

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"mode": self.mode, "via": self.via}
        if self.rebind is not None:
            entry["sysfs"] = self.rebind.shell_lines()
            entry["why"] = self.why
        else:
            entry["command"] = list(self.argv)
        return entry


@dataclass(frozen=True)
class Plan:
    """What ``device convert`` would do, and why it might refuse."""

    kind: str  # "dax" or "namespace"
    name: str  # daxX.Y or namespaceX.Y
    requested_mode: str
    current_mode: str | None  # None: the device does not exist
    paths: tuple[str, ...]  # device nodes the conversion takes away
    actions: tuple[Action, ...]
    destroys_data: bool
    findings: tuple[PreflightFinding, ...]
    force: bool = False
    data_effect: str = ""  # what the change does to the data, in words
    live: bool = True  # False: disabled, or its dax device is not in devdax mode

    @property
    def exists(self) -> bool:
        return self.current_mode is not None

    @property
    def nothing_to_do(self) -> bool:
        return self.current_mode == self.requested_mode and self.live

    @property
    def blocking(self) -> list[PreflightFinding]:
        return [finding for finding in self.findings if finding.blocking]

    @property
    def impossible(self) -> bool:
        """A missing device, or a finding ``--force`` cannot override."""
        return not self.exists or any(not finding.overridable for finding in self.blocking)

    @property
    def refused(self) -> bool:
        """Impossible plans are always refused; other blocking findings only without ``force``."""
        return self.impossible or (bool(self.blocking) and not self.force)

    @property
    def argv(self) -> tuple[str, ...]:
        """The command of the first step (empty when that step is a sysfs rebinding)."""
        return self.actions[0].argv if self.actions else ()

    @property
    def command_line(self) -> str:
        return " && ".join(action.command_line for action in self.actions)

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.name,
            "kind": self.kind,
            "paths": list(self.paths),
            "current_mode": self.current_mode,
            "requested_mode": self.requested_mode,
            "command": list(self.argv),
            "steps": [action.to_json() for action in self.actions],
            "destroys_data": self.destroys_data,
            "data": self.data_effect,
            "preflight": [
                {
                    "check": f.check,
                    "message": f.message,
                    "blocking": f.blocking,
                    "overridable": f.overridable,
                }
                for f in self.findings
            ],
            "refused": self.refused,
        }


@dataclass(frozen=True)
class Outcome:
    """What :func:`execute` did and what sysfs says afterwards."""

    plan: Plan
    ok: bool
    message: str
    executed: bool = False
    mode_after: str | None = None
    result: ToolResult | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.plan.to_json(),
            "executed": self.executed,
            "ok": self.ok,
            "mode_after": self.mode_after,
            "message": self.message,
            "returncode": None if self.result is None else self.result.returncode,
            "stderr": None if self.result is None else self.result.stderr,
        }


# --- planning ----------------------------------------------------------------------------


def _dax_argv(name: str, mode: str, force: bool) -> tuple[str, ...]:
    return ("daxctl", "reconfigure-device", f"--mode={mode}", *(("-f",) if force else ()), name)


def _namespace_argv(name: str, mode: str) -> tuple[str, ...]:
    return ("ndctl", "create-namespace", "--force", f"--reconfig={name}", f"--mode={mode}")


def _resolve_namespace(root: Path, device: str) -> str:
    """``namespaceX.Y`` for a namespace name or its ``/dev/pmemX`` (unchanged when unknown)."""
    if _NAMESPACE.fullmatch(device):
        return device
    for namespace in namespaces_from_sysfs(root):
        if namespace.device_path == device:
            return namespace.name
    return device


def plan(dev: str, mode: str, *, root: Path = Path("/"), force: bool = False) -> Plan:
    """Inspect ``dev`` for a change to ``mode``.

    ``dev`` is daxX.Y or /dev/daxX.Y (a dax device), or namespaceX.Y, /dev/pmemX or
    /dev/pmemX.Y (a pmem namespace, named by itself or by its block device).

    Raises :class:`ConvertUsageError` for a name or mode that cannot be converted.
    """
    if mode not in MODES:
        raise ConvertUsageError(f"unknown mode {mode!r} (use {', '.join(MODES)})")
    dax = _DAX.fullmatch(dev)
    if dax:
        if mode not in DAX_MODES:
            raise ConvertUsageError(_dax_mode_error(root, dax.group(1), mode))
        return _plan_dax(root, dax.group(1), mode, force)
    pmem = _PMEM.fullmatch(dev)
    if _NAMESPACE.fullmatch(dev) or pmem:
        name = _resolve_namespace(root, f"/dev/{pmem.group(1)}") if pmem else dev
        if mode not in NAMESPACE_MODES:
            raise ConvertUsageError(_namespace_mode_error(root, name, mode))
        return _plan_namespace(root, name, mode, force)
    raise ConvertUsageError(
        f"cannot convert {dev!r}: name a daxX.Y, /dev/daxX.Y, namespaceX.Y, /dev/pmemX or "
        "/dev/pmemX.Y device"
    )


def _dax_mode_error(root: Path, name: str, mode: str) -> str:
    device = dax_device(root, name)
    if device is not None and device.namespace:
        return f"{name} comes from {device.namespace}: convert {device.namespace} to {mode}"
    return f"a dax device converts to devdax, system-ram or famfs, not {mode}"


def _namespace_mode_error(root: Path, name: str, mode: str) -> str:
    if mode == "famfs":
        namespace = namespace_from_sysfs(root, name)
        dax = namespace.chardev if namespace is not None and namespace.chardev else "its daxX.Y"
        return (
            f"famfs mode is a mode of a dax device, not of a namespace: convert {name} to "
            f"devdax, then {dax} to famfs"
        )
    return f"a pmem namespace converts to devdax or fsdax, not {mode}"


def _missing(kind: str, name: str, mode: str, actions: tuple[Action, ...], force: bool) -> Plan:
    finding = PreflightFinding("exists", f"{name} does not exist on this machine")
    return Plan(kind, name, mode, None, (), actions, False, (finding,), force, "nothing changes")


def _route(current: str, mode: str) -> list[str]:
    """The modes the device passes through: system-ram and famfs only by way of devdax."""
    if {current, mode} == {"system-ram", "famfs"}:
        return ["devdax", mode]
    return [mode]


def _steps(current: str, mode: str) -> list[tuple[str, str]]:
    route = _route(current, mode)
    return list(zip([current, *route[:-1]], route, strict=True))


@dataclass(frozen=True)
class _Tools:
    """What the steps are made with: daxctl (asked once, and only when famfs mode is
    involved) and whether this kernel's fsdev_dax still has to be loaded."""

    daxctl: Daxctl | None
    load_fsdev: bool


def _tools(root: Path, current: str, mode: str) -> _Tools:
    if "famfs" not in (current, mode):
        return _Tools(None, False)
    fsdev = fsdev_dax(root)
    return _Tools(installed_daxctl(), not fsdev.loaded and fsdev.available)


def _dax_action(name: str, old: str, new: str, force: bool, tools: _Tools) -> Action:
    daxctl = tools.daxctl
    if "famfs" in (old, new) and daxctl is not None and not daxctl.has_famfs:
        load = tools.load_fsdev and new == "famfs"
        rebind = Rebind(name, MODE_DRIVERS.get(old), MODE_DRIVERS[new], load)
        return Action(new, rebind=rebind, why=daxctl.why_sysfs())
    return Action(new, argv=_dax_argv(name, new, force))


def _plan_dax(root: Path, name: str, mode: str, force: bool) -> Plan:
    current = dax_mode(root, name)
    if current is None:
        return _missing("dax", name, mode, (Action(mode, _dax_argv(name, mode, force)),), force)
    tools = _tools(root, current, mode)
    steps = _steps(current, mode) if current != mode else [(current, mode)]
    actions = tuple(_dax_action(name, old, new, force, tools) for old, new in steps)
    path = f"/dev/{name}"
    findings: list[PreflightFinding] = []
    if current != mode:
        findings += preflight.check_mounts(root, [path])
        findings += preflight.check_users(root, [path])
        if mode == "famfs":
            findings += _fsdev_findings(root)
        if mode == "system-ram":
            findings += _superblock_findings(root, name, current)
        for old, new in steps:
            findings += _memory_findings(root, name, old, new)
    destroys, effect = dax_effect(path, current, mode)
    return Plan(
        "dax", name, mode, current, (path,), actions, destroys, tuple(findings), force, effect
    )


def _fsdev_findings(root: Path) -> list[PreflightFinding]:
    fsdev = fsdev_dax(root)
    if fsdev.available:
        return []
    return [PreflightFinding("fsdev_dax", fsdev.missing_reason(), overridable=False)]


def _superblock_findings(root: Path, name: str, current: str) -> list[PreflightFinding]:
    """A famfs file system on a device whose memory is about to become RAM."""
    path = f"/dev/{name}"
    if current == "devdax":
        align = read_int(under(root, f"/sys/bus/dax/devices/{name}/align"))
        return preflight.check_superblock(root, path, use_mmap=True, map_size=align)
    if current == "famfs":
        return [
            PreflightFinding(
                "superblock",
                f"{path} cannot be mapped in famfs mode (mmap fails with ENODEV): it is "
                "looked at for a famfs superblock after the first step, back in devdax mode",
                blocking=False,
            )
        ]
    return []


def _memory_findings(root: Path, name: str, current: str, mode: str) -> list[PreflightFinding]:
    if current == "system-ram" and mode == "devdax":
        device = dax_device(root, name)
        start = read_int(under(root, f"/sys/bus/dax/devices/{name}/resource"))
        if device is None or device.size is None or start is None:
            return []
        online = online_blocks_in_range(root, start, device.size)
        if online:
            return [
                PreflightFinding(
                    "online-memory",
                    f"{online} memory block(s) of {name} are online as system RAM; daxctl must "
                    "offline them first (-f), which fails with EBUSY while the kernel uses them",
                )
            ]
    if mode == "system-ram":
        return _auto_online_findings(root) + _memory_block_findings(root, name)
    return []


def _auto_online_findings(root: Path) -> list[PreflightFinding]:
    policy = auto_online_policy(root)
    if policy is None or not policy.startswith("online"):
        return []
    return [
        PreflightFinding(
            "auto-online",
            f"auto_online_blocks is {policy!r}: the kernel onlines (and zeroes) the memory "
            "as soon as it is added; daxctl refuses this without -f",
        )
    ]


def _memory_block_findings(root: Path, name: str) -> list[PreflightFinding]:
    """kmem adds only whole memory blocks of each range; with none it refuses the device."""
    block = memory_block_size(root)
    ranges = dax_ranges(root, name)
    if not block or not ranges:
        return []
    whole = whole_blocks(ranges, block)
    total = sum(end + 1 - start for start, end in ranges)
    spans = ", ".join(f"{start:#x}-{end:#x}" for start, end in ranges)
    if whole == 0:
        return [
            PreflightFinding(
                "memory-blocks",
                f"{name} ({spans}, {human(total)}) holds no whole {human(block)} memory block "
                f"(block_size_bytes {block:#x}): the kernel refuses it ('rejecting DAX region "
                "without any memory after alignment') and daxctl leaves the device with no "
                "driver",
                overridable=False,
            )
        ]
    if whole * block < total:
        return [
            PreflightFinding(
                "memory-blocks",
                f"only {human(whole * block)} of the {human(total)} of {name} become system "
                f"RAM: the kernel adds whole {human(block)} memory blocks",
                blocking=False,
            )
        ]
    return []


def _namespace_paths(namespace: Namespace) -> list[str]:
    paths = [f"/dev/{namespace.blockdev}"] if namespace.blockdev else []
    return paths + ([f"/dev/{namespace.chardev}"] if namespace.chardev else [])


def _plan_namespace(root: Path, name: str, mode: str, force: bool) -> Plan:
    actions = (Action(mode, _namespace_argv(name, mode)),)
    namespace = namespace_from_sysfs(root, name)
    if namespace is None:
        return _missing("namespace", name, mode, actions, force)
    paths = _namespace_paths(namespace)
    state = _state_findings(root, namespace, mode)
    live = not state
    findings = list(state)
    if (namespace.mode != mode or not live) and paths:
        findings += _namespace_preflight(root, namespace, mode, paths)
    destroys, effect = namespace_effect(namespace, mode)
    if any(finding.check == "system-ram" for finding in state):
        destroys = True
        effect = f"/dev/{namespace.chardev} is system RAM now: nothing of its earlier data is left"
    return Plan(
        "namespace",
        name,
        mode,
        namespace.mode,
        tuple(paths),
        actions,
        destroys,
        tuple(findings),
        force,
        effect,
        live,
    )


def _namespace_preflight(
    root: Path, namespace: Namespace, mode: str, paths: list[str]
) -> list[PreflightFinding]:
    findings = preflight.check_mounts(root, paths)
    findings += preflight.check_holders(root, namespace.blockdev)
    findings += preflight.check_users(root, paths)
    kept_on = future_path(namespace.name, mode) if keeps_data(namespace, mode) else None
    for path in paths:
        is_dax = path.startswith("/dev/dax")
        if is_dax and dax_mode(root, path[len("/dev/") :]) == "system-ram":
            continue  # its memory is RAM now: there is no file system to find
        findings += preflight.check_superblock(
            root,
            path,
            use_mmap=is_dax,
            map_size=namespace.align if is_dax else None,
            kept_on=kept_on,
        )
    return findings


def _state_findings(root: Path, namespace: Namespace, mode: str) -> list[PreflightFinding]:
    """Why the namespace is not serving its current mode: disabled, or dax device not devdax."""
    if namespace.size == 0:
        region = namespace.name[len("namespace") :].split(".")[0]
        return [
            PreflightFinding(
                "disabled",
                f"{namespace.name} is disabled: {namespace.disabled}; to use its region: "
                f"ndctl create-namespace --region=region{region} --mode={mode}",
                overridable=False,
            )
        ]
    if not namespace.enabled:
        return [PreflightFinding("disabled", f"{namespace.name} is disabled: {namespace.disabled}")]
    if namespace.chardev is None:
        return []
    dax = dax_mode(root, namespace.chardev)
    if dax == "system-ram":
        return [_system_ram_finding(root, namespace, namespace.chardev, mode)]
    if dax == "unbound":
        return [
            PreflightFinding(
                "unbound",
                f"{namespace.chardev} has no driver bound: famfs-xml device convert "
                f"{namespace.chardev} --mode devdax binds it again and keeps its data",
                blocking=False,
            )
        ]
    return []


def _system_ram_finding(
    root: Path, namespace: Namespace, chardev: str, mode: str
) -> PreflightFinding:
    start = read_int(under(root, f"/sys/bus/dax/devices/{chardev}/resource"))
    size = read_int(under(root, f"/sys/bus/dax/devices/{chardev}/size"))
    online = online_blocks_in_range(root, start, size) if start is not None and size else 0
    blocks = f"{online} memory block{'' if online == 1 else 's'} online"
    first = (
        f"famfs-xml device convert {chardev} --mode devdax --yes --force (--force lets daxctl "
        "take the memory offline)"
    )
    steps = (
        f"Instead: {first}"
        if mode == "devdax"
        else f"Two steps: first {first}, then famfs-xml device convert {namespace.name} "
        f"--mode {mode} --yes"
    )
    return PreflightFinding(
        "system-ram",
        f"{chardev} is in system-ram mode with {blocks}: ndctl cannot reconfigure "
        f"{namespace.name} while the kernel uses its memory (it fails with 'Device or resource "
        f"busy'). {steps}",
    )


# --- execution ---------------------------------------------------------------------------


def current_mode(root: Path, plan: Plan) -> str | None:
    """The device's mode as sysfs shows it now (``disabled`` for a namespace without driver)."""
    if plan.kind == "dax":
        return dax_mode(root, plan.name)
    namespace = namespace_from_sysfs(root, plan.name)
    if namespace is None:
        return None
    return namespace.mode if namespace.enabled else "disabled"


def _refusal(plan: Plan) -> str:
    if not plan.exists:
        return f"{plan.name} does not exist; nothing was run"
    reasons = "; ".join(f.message for f in plan.blocking)
    if plan.impossible:
        return f"refused to convert {plan.name}: {reasons}"
    return f"refused to convert {plan.name}: {reasons} (use --force to override)"


def execute(
    plan: Plan,
    *,
    root: Path = Path("/"),
    timeout: float = DEFAULT_TIMEOUT,
    write: SysfsWriter = write_attribute,
) -> Outcome:
    """Run the plan's steps unless refused, verifying the mode in sysfs after each.

    A second step gets its own pre-flight first, on the device as the first left it: a
    famfs superblock cannot be looked for in famfs mode, only back in devdax. ``write`` makes
    the sysfs writes of a rebinding (tests hand in a fake kernel).
    """
    if plan.refused:
        return Outcome(plan, ok=False, message=_refusal(plan), mode_after=plan.current_mode)
    if plan.nothing_to_do:
        return Outcome(
            plan,
            ok=True,
            mode_after=plan.current_mode,
            message=f"{plan.name} is already in {plan.requested_mode} mode; nothing was run",
        )
    before = plan.current_mode
    result: ToolResult | None = None
    for index, action in enumerate(plan.actions):
        stop = _before_step(plan, root, before, action, index) if index else None
        if stop is not None:
            return Outcome(
                plan, ok=False, executed=True, mode_after=before, result=result, message=stop
            )
        result = _run_action(action, root, timeout, write)
        after = current_mode(root, plan)
        if after != action.mode:
            message = _step_name(plan, index) + _verdict(plan.name, before, action, result, after)
            return Outcome(
                plan, ok=False, executed=True, mode_after=after, result=result, message=message
            )
        before = after
    assert result is not None  # a plan that is neither refused nor done has steps
    message = _verdict(plan.name, plan.current_mode, plan.actions[-1], result, before)
    if len(plan.actions) > 1:
        message += " (by way of " + ", ".join(a.mode for a in plan.actions[:-1]) + ")"
    return Outcome(plan, ok=True, executed=True, mode_after=before, result=result, message=message)


def _step_name(plan: Plan, index: int) -> str:
    return f"step {index + 1} of {len(plan.actions)}: " if len(plan.actions) > 1 else ""


def _before_step(
    plan: Plan, root: Path, before: str | None, action: Action, index: int
) -> str | None:
    """Why the next step must not run, or None."""
    if action.mode != "system-ram" or before is None:
        return None
    blocking = [f for f in _superblock_findings(root, plan.name, before) if f.blocking]
    if not blocking or (plan.force and all(f.overridable for f in blocking)):
        return None
    reasons = "; ".join(f.message for f in blocking)
    return (
        f"stopped after step {index} of {len(plan.actions)}: {plan.name} is now in {before} "
        f"mode; step {index + 1} refused: {reasons} (use --force to override)"
    )


def _run_action(action: Action, root: Path, timeout: float, write: SysfsWriter) -> ToolResult:
    if action.rebind is None:
        return run_tool(action.argv, timeout=timeout)
    error = action.rebind.run(root, write)
    argv = ("sysfs", *action.rebind.shell_lines())
    return ToolResult(argv, 0 if error is None else None, "", "", error=error)


def _verdict(
    name: str, before: str | None, action: Action, result: ToolResult, after: str | None
) -> str:
    still = "still" if after == before else "now"
    shown = "disabled" if after == "disabled" else f"in {after} mode"
    state = f"{name} is {still} {shown}" if after else f"{name} is gone"
    if after == action.mode:
        if not result.ok:
            return f"{state}, although {result.describe_failure()}"
        return state
    if not result.ok:
        return f"{result.describe_failure()}; {state}"
    if action.rebind is not None:
        return f"the sysfs writes went through, but {state}, not {action.mode}"
    count = reconfigured_count(result.stderr)
    plural = "" if count == 1 else "s"
    said = f" and reported 'reconfigured {count} device{plural}'" if count is not None else ""
    return (
        f"{action.argv[0]} exited 0{said}, but {state}, not {action.mode}: "
        "the conversion did not happen"
    )
