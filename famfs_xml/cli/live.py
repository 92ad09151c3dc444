"""``lint``, ``fix``, ``attach`` and ``detach`` with ``--connect URI``: the domains come from
libvirt, and changes go back through it (:mod:`famfs_xml.live`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
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
    from famfs_xml.lint.options import LintOptions
    from famfs_xml.live.connection import Hypervisor
    from famfs_xml.live.domains import LiveDomain, LiveOutcome


def _with_domains(
    names: list[str],
    args: RuleArgs,
    to_change: bool,
    work: Callable[[Hypervisor, list[LiveDomain]], int],
) -> int:
    """Connect, fetch the domains, run ``work``; a libvirt problem is a usage failure."""
    from famfs_xml.live.connection import LiveError, connect
    from famfs_xml.live.domains import fetch

    assert args.connect is not None
    check_targets(names, args, "domains")
    try:
        hypervisor = connect(args.connect)
        try:
            domains = fetch(hypervisor, names, every=args.all_domains, to_change=to_change)
            return work(hypervisor, domains)
        finally:
            hypervisor.close()
    except LiveError as exc:
        raise UsageFailure(str(exc)) from None


def speaking_of(hypervisor: Hypervisor, options: LintOptions) -> LintOptions:
    """The options with the daemon's own release as the target, unless
    ``--libvirt-version`` named one: the domains are the daemon's to define and start."""
    from famfs_xml.core.libvirt_version import LibvirtTarget, TargetSource

    if options.libvirt.source == TargetSource.OPTION:
        return options
    version = hypervisor.libvirt_version()
    if version is None:
        return options
    return options._replace(libvirt=LibvirtTarget(version, TargetSource.CONNECT))


def lint(names: list[str], args: LintArgs) -> int:
    """``famfs-xml lint --connect URI``: the definitions libvirt holds, linted together."""
    from famfs_xml.live.domains import lint_domains

    settings = check_settings(args)
    start_up_done()

    def work(hypervisor: Hypervisor, domains: list[LiveDomain]) -> int:
        result = lint_domains(domains, speaking_of(hypervisor, settings.options))
        output_format = report_format(args.output_format)
        emit(render_report(result, "lint", output_format, statistics=args.statistics), args.output)
        return exit_code_of(result, settings.fail_on, exit_zero=args.exit_zero)

    return _with_domains(names, args, False, work)


def fix(names: list[str], args: FixArgs) -> int:
    """``famfs-xml fix --connect URI``: each fixed definition defined, read back, verified."""
    from famfs_xml.live.domains import fix_domains

    settings = check_settings(args, args.unsafe_fixes)
    start_up_done()

    def work(hypervisor: Hypervisor, domains: list[LiveDomain]) -> int:
        outcome = fix_domains(
            hypervisor, domains, speaking_of(hypervisor, settings.options), diff=args.diff
        )
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
        return exit_code_of(
            outcome.result, settings.fail_on, changed_fails=args.exit_non_zero_on_fix
        )

    return _with_domains(names, args, True, work)


def attach(names: list[str], args: RuleArgs, request: Request, diff: bool) -> int:
    """``famfs-xml attach --connect URI``: all the named domains get the device, or none."""
    from famfs_xml.live.domains import attach_domains

    settings = rule_settings(args)

    def work(hypervisor: Hypervisor, domains: list[LiveDomain]) -> int:
        outcome = attach_domains(
            hypervisor, domains, request, speaking_of(hypervisor, settings.options), diff=diff
        )
        return _changed(outcome, diff, settings.fail_on)

    return _with_domains(names, args, True, work)


def detach(names: list[str], args: RuleArgs, source: str, diff: bool) -> int:
    """``famfs-xml detach --connect URI``: the device leaves all the named domains, or none."""
    from famfs_xml.live.domains import detach_domains

    settings = rule_settings(args)

    def work(hypervisor: Hypervisor, domains: list[LiveDomain]) -> int:
        outcome = detach_domains(
            hypervisor, domains, source, speaking_of(hypervisor, settings.options), diff=diff
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
