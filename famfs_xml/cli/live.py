"""``lint``, ``fix``, ``attach`` and ``detach`` with ``--connect URI``: the domains come from
libvirt, and changes go back through it (:mod:`famfs_xml.live`). ``lint`` and ``fix`` read
several hypervisors in one run (``--connect`` repeated, ``--hypervisors FILE``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from famfs_xml.cli.commands import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    UsageFailure,
    check_settings,
    check_targets,
    emit,
    exit_code_of,
    render_report,
    report_format,
    rule_settings,
    say,
    start_up_done,
)
from famfs_xml.cli.options import FixArgs, LintArgs, OutputFormat, RuleArgs

if TYPE_CHECKING:
    from famfs_xml.attach import Request
    from famfs_xml.core.findings import Severity
    from famfs_xml.core.libvirt_version import LibvirtTarget
    from famfs_xml.lint.options import LintOptions
    from famfs_xml.live.connection import Hypervisor
    from famfs_xml.live.domains import LiveDomain, LiveOutcome
    from famfs_xml.live.fleet import HostDomains, Target


def _with_domains(
    names: list[str],
    args: RuleArgs,
    to_change: bool,
    work: Callable[[Hypervisor, list[LiveDomain]], int],
) -> int:
    """Connect to the one libvirt, fetch the domains, run ``work``; a libvirt problem is a
    usage failure."""
    from famfs_xml.live.connection import LiveError, connect
    from famfs_xml.live.domains import fetch

    targets = _targets(names, args)
    if len(targets) > 1:
        raise UsageFailure(
            "attach and detach change the domains of one libvirt: give one --connect"
        )
    target = targets[0]
    try:
        hypervisor = connect(target.uri)
        try:
            found = fetch(hypervisor, names, every=args.all_domains, to_change=to_change)
            domains = [domain.on_host(target.name, qualified=False) for domain in found]
            return work(hypervisor, domains)
        finally:
            hypervisor.close()
    except LiveError as exc:
        raise UsageFailure(str(exc)) from None


def _targets(names: list[str], args: RuleArgs) -> list[Target]:
    """The hypervisors of ``--connect`` and ``--hypervisors``, each once."""
    from famfs_xml.live.fleet import FleetError, read_inventory, targets_of

    check_targets(names, args, "domains")
    try:
        inventory = []
        if args.hypervisors is not None:
            inventory = read_inventory(_read_text(args.hypervisors), str(args.hypervisors))
        targets = targets_of(args.connect or (), inventory)
    except FleetError as exc:
        raise UsageFailure(str(exc)) from None
    if not targets:
        raise UsageFailure(f"{args.hypervisors}: no libvirt URI in it")
    return targets


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageFailure(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageFailure(f"{path}: not UTF-8 text") from None


def _read_fleet(names: list[str], args: RuleArgs, to_change: bool) -> list[HostDomains]:
    """Every hypervisor's domains, read side by side (one thread a daemon: a slow one delays
    no other). A daemon that does not answer is its host's error; when none answers, or
    the one asked for does not, that is a usage failure."""
    from famfs_xml.live.connection import connect
    from famfs_xml.live.fleet import close_all, read_host

    targets = _targets(names, args)
    several = len(targets) > 1

    def read(target: Target) -> HostDomains:
        return read_host(
            target,
            names,
            every=args.all_domains,
            to_change=to_change,
            qualified=several,
            connect=connect,
            missing_ok=several,
        )

    if several:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(len(targets), 8)) as pool:
            hosts = list(pool.map(read, targets))
    else:
        hosts = [read(targets[0])]
    failed = [host.record.error for host in hosts if host.record.error is not None]
    if len(failed) == len(hosts):
        close_all(hosts)
        raise UsageFailure("; ".join(error for error in failed if error))
    return hosts


def _fleet_errors(names: list[str], hosts: list[HostDomains]) -> list[str]:
    """One line per host that gave nothing, and per name no host holds."""
    from famfs_xml.live.fleet import missing_names

    errors = [
        f"host {host.record.name} ({host.record.uri}): {host.record.error}"
        for host in hosts
        if host.record.error is not None
    ]
    answered = [host for host in hosts if host.record.error is None]
    errors += [f"no host holds a domain named {name!r}" for name in missing_names(names, answered)]
    return errors


def speaking_of(options: LintOptions, daemon: LibvirtTarget | None) -> LintOptions:
    """The options with the daemon's own release as the target, unless
    ``--libvirt-version`` named one: the domains are the daemon's to define and start."""
    from famfs_xml.core.libvirt_version import TargetSource

    if daemon is None or options.libvirt.source == TargetSource.OPTION:
        return options
    return options._replace(libvirt=daemon)


def _host_options(host: HostDomains, options: LintOptions) -> LintOptions:
    """:func:`speaking_of` for a host already read; its record keeps the release used."""
    options = speaking_of(options, host.record.libvirt)
    host.record.libvirt = options.libvirt
    return options


def _run_target(hosts: list[HostDomains], options: LintOptions) -> LibvirtTarget:
    """The release a run over several hosts speaks of: theirs when they agree; else none
    (each host's is in the report's list of hosts)."""
    from famfs_xml.core.libvirt_version import LibvirtTarget, TargetSource

    releases = {host.record.libvirt for host in hosts if host.record.error is None}
    if len(releases) == 1:
        (release,) = releases
        return release or options.libvirt
    return LibvirtTarget(None, TargetSource.CONNECT)


def lint(names: list[str], args: LintArgs) -> int:
    """``famfs-xml lint --connect URI...``: the definitions libvirt holds, of one or more
    hypervisors, linted in one run."""
    from famfs_xml.live.domains import lint_fleet
    from famfs_xml.live.fleet import close_all

    settings = check_settings(args)
    start_up_done()
    hosts = _read_fleet(names, args, False)
    close_all(hosts)
    answered = [host for host in hosts if host.record.error is None]
    each = [(host.domains, _host_options(host, settings.options)) for host in answered]
    result = lint_fleet(each, settings.options)
    result.libvirt = _run_target(hosts, settings.options)
    result.hosts = [host.record for host in hosts]
    result.errors.extend(_fleet_errors(names, hosts))
    output_format = report_format(args.output_format)
    emit(render_report(result, "lint", output_format, statistics=args.statistics), args.output)
    return exit_code_of(result, settings.fail_on, exit_zero=args.exit_zero)


def fix(names: list[str], args: FixArgs) -> int:
    """``famfs-xml fix --connect URI...``: each fixed definition defined, read back,
    verified, on each hypervisor."""
    from famfs_xml.live.domains import HostWork, fix_fleet
    from famfs_xml.live.fleet import close_all

    settings = check_settings(args, args.unsafe_fixes)
    start_up_done()
    hosts = _read_fleet(names, args, True)
    try:
        work = [
            HostWork(host.hypervisor, host.domains, _host_options(host, settings.options))
            for host in hosts
            if host.hypervisor is not None
        ]
        outcome = fix_fleet(work, settings.options, diff=args.diff)
    finally:
        close_all(hosts)
    outcome.result.libvirt = _run_target(hosts, settings.options)
    outcome.result.hosts = [host.record for host in hosts]
    outcome.result.errors[:0] = _fleet_errors(names, hosts)
    if args.diff:
        return _diff_exit(outcome)
    output_format = report_format(args.output_format)
    _tell(outcome, to_stderr=output_format is not OutputFormat.text or args.output is not None)
    report = render_report(
        outcome.result,
        "fix",
        output_format,
        statistics=args.statistics,
        show_fixes=args.show_fixes,
    )
    emit(report, args.output)
    return exit_code_of(outcome.result, settings.fail_on, changed_fails=args.exit_non_zero_on_fix)


def attach(names: list[str], args: RuleArgs, request: Request, diff: bool) -> int:
    """``famfs-xml attach --connect URI``: all the named domains get the device, or none."""
    from famfs_xml.live.connection import daemon_release
    from famfs_xml.live.domains import attach_domains

    settings = rule_settings(args)

    def work(hypervisor: Hypervisor, domains: list[LiveDomain]) -> int:
        outcome = attach_domains(
            hypervisor,
            domains,
            request,
            speaking_of(settings.options, daemon_release(hypervisor)),
            diff=diff,
        )
        return _changed(outcome, diff, settings.fail_on)

    return _with_domains(names, args, True, work)


def detach(names: list[str], args: RuleArgs, source: str, diff: bool) -> int:
    """``famfs-xml detach --connect URI``: the device leaves all the named domains, or none."""
    from famfs_xml.live.connection import daemon_release
    from famfs_xml.live.domains import detach_domains

    settings = rule_settings(args)

    def work(hypervisor: Hypervisor, domains: list[LiveDomain]) -> int:
        outcome = detach_domains(
            hypervisor,
            domains,
            source,
            speaking_of(settings.options, daemon_release(hypervisor)),
            diff=diff,
        )
        return _changed(outcome, diff, settings.fail_on)

    return _with_domains(names, args, True, work)


def _changed(outcome: LiveOutcome, diff: bool, fail_on: Severity) -> int:
    from famfs_xml.report import text

    if diff:
        return _diff_exit(outcome)
    _tell(outcome, to_stderr=False)
    if outcome.result.findings:
        emit(text.render(outcome.result, "lint"), None)
    return exit_code_of(outcome.result, fail_on)


def _tell(outcome: LiveOutcome, *, to_stderr: bool) -> None:
    lines = "".join(f"{message}\n" for message in outcome.messages)
    if lines:
        emit(lines, None, to_stderr=to_stderr)


def _diff_exit(outcome: LiveOutcome) -> int:
    """``--diff``: what would be defined; nothing is."""
    sys.stdout.write("".join(outcome.result.diffs))
    sys.stdout.flush()
    for error in outcome.result.errors:
        say(f"famfs-xml: error: {error}")
    if outcome.result.errors:
        return EXIT_ERROR
    return EXIT_FINDINGS if any(outcome.result.diffs) else EXIT_OK
