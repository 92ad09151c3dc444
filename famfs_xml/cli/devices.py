"""The ``devices``, ``device convert`` and ``host check`` commands (a thin layer)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from famfs_xml.core.findings import Finding, Severity
from famfs_xml.host.checks import check_host
from famfs_xml.host.convert import DEFAULT_TIMEOUT, MODES, ConvertUsageError, Outcome, Plan, execute
from famfs_xml.host.convert import plan as make_plan
from famfs_xml.host.devices import devices_to_json, format_table, read_inventory

JSON_VERSION = 1

RootOption = Annotated[
    Path, typer.Option("--root", help="Read /sys, /proc, /etc and /boot under this directory.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON (version 1).")]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"famfs-xml: error: {message}", err=True)
    raise typer.Exit(code)


def _checked_root(root: Path) -> Path:
    if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
        _fail(f"cannot read root {root}: not a readable directory")
    return root


def _print_json(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2))


# --- devices -----------------------------------------------------------------------------


def devices_command(root: RootOption = Path("/"), as_json: JsonOption = False) -> None:
    """List the host's dax devices and pmem namespaces: path, size, align, mode, NUMA node."""
    try:
        listing = read_inventory(_checked_root(root))
    except OSError as exc:
        _fail(f"cannot read devices under {root}: {exc.strerror or exc}")
    if as_json:
        _print_json(devices_to_json(listing.devices, listing.namespaces, listing.left_in_famfs))
    else:
        typer.echo(format_table(listing.devices, listing.namespaces, listing.left_in_famfs))


# --- device convert ----------------------------------------------------------------------


def _plan_lines(plan: Plan) -> list[str]:
    shown = f"{plan.name} ({', '.join(plan.paths)})" if plan.paths else plan.name
    lines = [
        f"Device:       {shown}",
        f"Current mode: {plan.current_mode or 'missing'}",
        f"Wanted mode:  {plan.requested_mode}",
    ]
    if plan.findings:
        lines.append("Pre-flight:")
        for finding in plan.findings:
            tag = "" if finding.blocking else " (note)"
            lines.append(f"  - {finding.check}{tag}: {finding.message}")
    else:
        lines.append("Pre-flight:   no problems found")
    lines += _step_lines(plan)
    if not plan.nothing_to_do and plan.exists:
        lines.append(f"Data:         {plan.data_effect}")
    return lines


def _step_lines(plan: Plan) -> list[str]:
    """``Command:`` for one step; ``Steps:`` numbered when the plan goes through devdax.
    A sysfs step says why daxctl does not make it."""
    lines = []
    numbered = len(plan.actions) > 1
    if numbered:
        lines.append("Steps:")
    for number, action in enumerate(plan.actions, start=1):
        label = f"  {number}. to {action.mode}: " if numbered else "Command:      "
        lines.append(f"{label}{action.command_line}")
        if action.rebind is not None:
            indent = "     " if numbered else "Via:          "
            lines.append(f"{indent}sysfs, as famfs does it: {action.why}")
    return lines


def _plan_only(plan: Plan, as_json: bool) -> NoReturn:
    """Show what ``--yes`` would do; always exit 1, having run nothing."""
    if plan.nothing_to_do:
        message = f"{plan.name} is already in {plan.requested_mode} mode: --yes will run nothing"
    elif not plan.exists:
        message = f"nothing was run: {plan.name} does not exist"
    elif plan.impossible:
        message = "nothing was run; --yes would be refused, even with --force"
    elif plan.refused:
        message = "nothing was run; --yes alone would be refused (--force overrides the checks)"
    else:
        message = "nothing was run: add --yes to run this command"
    if as_json:
        _print_json(
            {
                "version": JSON_VERSION,
                **plan.to_json(),
                "executed": False,
                "ok": False,
                "message": message,
            }
        )
    else:
        typer.echo("\n".join([*_plan_lines(plan), message]))
    raise typer.Exit(1)  # the contract: without --yes, show the plan and exit 1


def _report(outcome: Outcome, as_json: bool) -> NoReturn:
    if as_json:
        _print_json({"version": JSON_VERSION, **outcome.to_json()})
    else:
        typer.echo("\n".join(_plan_lines(outcome.plan)))
        if outcome.ok:
            typer.echo(outcome.message)
    if not outcome.ok:
        typer.echo(f"famfs-xml: {outcome.message}", err=True)
    raise typer.Exit(0 if outcome.ok else 1)


def convert_command(
    device: Annotated[
        str, typer.Argument(help="daxX.Y, /dev/daxX.Y, namespaceX.Y, /dev/pmemX or /dev/pmemX.Y")
    ],
    mode: Annotated[str, typer.Option("--mode", help=f"One of: {', '.join(MODES)}.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Run the command (else only show it).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Go ahead despite pre-flight findings.")
    ] = False,
    as_json: JsonOption = False,
    root: RootOption = Path("/"),
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for daxctl/ndctl.")
    ] = DEFAULT_TIMEOUT,
) -> None:
    """Change a dax device's or pmem namespace's mode safely: check, show the plan, verify."""
    try:
        plan = make_plan(device, mode, root=_checked_root(root), force=force)
    except ConvertUsageError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot inspect {device}: {exc.strerror or exc}")
    if not yes:
        _plan_only(plan, as_json)
    _report(execute(plan, root=root, timeout=timeout), as_json)


# --- host check --------------------------------------------------------------------------


def _finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": finding.severity.label,
        "message": finding.message,
        "hint": finding.hint,
    }


def _finding_text(finding: Finding) -> str:
    text = f"{finding.code} [{finding.severity.label}] {finding.name}: {finding.message}"
    return text + (f"\n    hint: {finding.hint}" if finding.hint else "")


def host_check_command(root: RootOption = Path("/"), as_json: JsonOption = False) -> None:
    """Check the host side of the famfs guide: EFI, kernel command line, RAM, grub, dax modes."""
    try:
        findings = check_host(_checked_root(root))
    except OSError as exc:
        _fail(f"cannot read the host under {root}: {exc.strerror or exc}")
    if as_json:
        _print_json({"version": JSON_VERSION, "findings": [_finding_json(f) for f in findings]})
    else:
        for finding in findings:
            typer.echo(_finding_text(finding))
        count = len(findings)
        typer.echo(
            f"Found {count} problem{'s' if count != 1 else ''}." if count else "No problems found."
        )
    failing = any(f.severity >= Severity.WARNING for f in findings)
    raise typer.Exit(1 if failing else 0)


def register(app: typer.Typer) -> None:
    """Add ``devices``, ``device convert`` and ``host check`` to the main app."""
    app.command("devices")(devices_command)
    device_app = typer.Typer(help="Change dax devices and pmem namespaces.", no_args_is_help=True)
    device_app.command("convert")(convert_command)
    app.add_typer(device_app, name="device")
    host_app = typer.Typer(help="Check this host for the famfs guide.", no_args_is_help=True)
    host_app.command("check")(host_check_command)
    app.add_typer(host_app, name="host")
