"""What the ``lint`` and ``fix`` commands do, without the command-line framework.

:mod:`famfs_xml.cli.app` declares the options with typer and calls these functions; the
launcher (:mod:`famfs_xml.cli.main`) calls :func:`lint` directly for the common invocation
(``lint`` with plain flags and paths, as a git hook runs it), so that a one-file lint does
not pay for importing typer. Nothing here prints except the report and error lines, and
nothing exits: each command returns its exit code.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    # (at run time only the report's format is needed: the libvirt hook, which only builds
    # settings here, does without the option declarations)
    from famfs_xml.cli.options import (
        CheckArgs,
        FailOn,
        FixArgs,
        LintArgs,
        OutputFormat,
        RuleArgs,
    )
    from famfs_xml.core.findings import Severity
    from famfs_xml.core.inventory import DeviceFacts
    from famfs_xml.core.libvirt_version import LibvirtTarget, LibvirtVersion
    from famfs_xml.lint.options import LintOptions
    from famfs_xml.lint.run import RunResult

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class UsageFailure(Exception):
    """A problem with what the user asked for: one line on stderr, exit 2."""


def say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def guarded(action: Callable[[], int], describe: Callable[[Exception], str | None]) -> int:
    """Run a command; every failure becomes one line on stderr and an exit code.

    ``describe`` words an exception the caller knows (a usage error of the option parser)
    or returns None; anything else is an internal error (``FAMFS_XML_DEBUG=1`` re-raises it).
    """
    try:
        return action()
    except UsageFailure as exc:
        say(f"famfs-xml: error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        message = describe(exc)
        if message is not None:
            say(f"famfs-xml: error: {message}")
            return EXIT_ERROR
        if os.environ.get("FAMFS_XML_DEBUG"):
            raise
        say(f"famfs-xml: internal error: {type(exc).__name__}: {exc}")
        return EXIT_ERROR


def check_targets(names: list[str], args: RuleArgs, files: str) -> None:
    """What to work on is named one way: ``files``, or with ``--connect`` domain names or
    ``--all``."""
    if not args.live:
        if args.all_domains:
            raise UsageFailure("--all needs --connect URI")
        if not names:
            raise UsageFailure(f"name the {files}, or give --connect URI")
        return
    if args.all_domains and names:
        raise UsageFailure("give domain names or --all, not both")
    if not names and not args.all_domains:
        given = " ".join(f"--connect {uri}" for uri in args.connect or ())
        if args.hypervisors is not None:
            given = f"{given} --hypervisors {args.hypervisors}".strip()
        raise UsageFailure(f"{given}: name the domains, or give --all")


def facts_from_options(inventory: Path | None, host: bool, root: Path) -> DeviceFacts | None:
    """Backing-device facts: a saved inventory first, then the live machine."""
    if inventory is None and not host:
        return None
    from famfs_xml.core.inventory import ChainedFacts, Inventory, InventoryError

    sources: list[DeviceFacts] = []
    if inventory is not None:
        try:
            sources.append(Inventory.from_file(inventory))
        except InventoryError as exc:
            raise UsageFailure(str(exc)) from None
    if host:
        from famfs_xml.host.facts import HostFacts

        if not root.is_dir():
            raise UsageFailure(f"cannot read root {root}: not a directory")
        sources.append(HostFacts(root))
    if not sources:
        return None
    return sources[0] if len(sources) == 1 else ChainedFacts(*sources)


class Settings(NamedTuple):
    options: LintOptions
    fail_on: Severity


class Selection(NamedTuple):
    """The rule-choosing options of a command, as given on the command line."""

    select: list[str] | None
    extend_select: list[str] | None
    ignore: list[str] | None
    fail_on: FailOn | None
    config_file: Path | None
    isolated: bool

    @classmethod
    def of(
        cls, args: RuleArgs, config_file: Path | None = None, isolated: bool = False
    ) -> Selection:
        return cls(
            args.select, args.extend_select, args.ignore, args.fail_on, config_file, isolated
        )


def settings_for(
    selection: Selection,
    facts_from: tuple[Path | None, bool, Path],
    unsafe_fixes: bool = False,
    schemas: Path | None = None,
    verbose: bool = False,
    libvirt_version: str | None = None,
) -> Settings:
    """Config file and command line, merged into the options of one run."""
    from famfs_xml.core.findings import Severity
    from famfs_xml.lint import config
    from famfs_xml.lint.catalog import CatalogError, load_catalog
    from famfs_xml.lint.checks import OPT_IN_CODES
    from famfs_xml.lint.options import LintOptions
    from famfs_xml.lint.selection import SelectionError

    try:
        catalog = load_catalog()
        loaded = config.resolve_config(
            catalog, explicit=selection.config_file, isolated=selection.isolated
        )
        extra = list(selection.extend_select or ())
        parameters: dict[str, dict[str, object]] = {
            code: dict(values) for code, values in loaded.parameters.items()
        }
        if schemas is not None:
            extra.append("FX901")
            parameters["FX901"] = {"schemas": str(schemas)}
        fail_on = selection.fail_on
        overrides = config.Overrides(
            select=selection.select,
            extend_select=extra,
            ignore=selection.ignore or (),
            fail_on=None if fail_on is None else Severity.parse(fail_on.value),
        )
        codes = config.effective_codes(catalog, loaded, overrides, OPT_IN_CODES)
        named = config.effective_named(catalog, loaded, overrides)
        facts = facts_from_options(*facts_from)
    except (config.ConfigError, SelectionError, CatalogError) as exc:
        raise UsageFailure(str(exc)) from None
    if "FX901" in codes:
        check_schema(schemas, verbose)
    target = libvirt_target(libvirt_version, loaded.libvirt_version, facts_from[2])
    if verbose:
        say(f"famfs-xml: note: the findings speak of {target.describe()}")
    options = LintOptions(
        codes,
        facts,
        parameters,
        unsafe_fixes,
        per_file_ignores=loaded.per_file_ignores,
        named=named,
        libvirt=target,
        hosts=loaded.hosts,
    )
    return Settings(options, config.effective_fail_on(loaded, overrides))


def libvirt_target(
    given: str | None, configured: LibvirtVersion | None, root: Path = Path("/")
) -> LibvirtTarget:
    """The release the rules speak of: ``--libvirt-version``, else the config's
    ``libvirt-version``, else the libvirt installed under ``root`` (``--connect`` puts the
    daemon's own release before the last two once it is connected)."""
    from famfs_xml.core.libvirt_version import UNKNOWN, LibvirtTarget, LibvirtVersion, TargetSource

    if given is not None:
        try:
            return LibvirtTarget(LibvirtVersion.parse(given), TargetSource.OPTION)
        except ValueError as exc:
            raise UsageFailure(f"--libvirt-version: {exc}") from None
    if configured is not None:
        return LibvirtTarget(configured, TargetSource.CONFIG)
    from famfs_xml.host.libvirt_install import installed_libvirt

    installed = installed_libvirt(root)
    return UNKNOWN if installed is None else LibvirtTarget(installed, TargetSource.INSTALLED)


def rule_settings(args: RuleArgs) -> Settings:
    """The settings of a command that selects rules but has no config options of its own
    (attach, detach): the discovered config file, overridden by the command line."""
    return settings_for(
        Selection.of(args),
        (args.inventory, args.host, args.root),
        libvirt_version=args.libvirt_version,
    )


def check_settings(args: CheckArgs, unsafe_fixes: bool = False) -> Settings:
    """The settings of ``lint`` and ``fix``, on files or through ``--connect``."""
    return settings_for(
        Selection.of(args, args.config_file, args.isolated),
        (args.inventory, args.host, args.root),
        unsafe_fixes,
        schemas=args.libvirt_schemas,
        verbose=args.verbose,
        libvirt_version=args.libvirt_version,
    )


def check_schema(schemas: Path | None, verbose: bool) -> None:
    from famfs_xml.lint.libvirt_schema import find_schema

    if find_schema(schemas) is not None:
        return
    if schemas is not None:
        raise UsageFailure(f"no libvirt domain schema (domain.rng) in {schemas}")
    if verbose:
        say(
            "famfs-xml: note: FX901 skipped: libvirt's domain schema was not found "
            "(install libvirt's client tools or pass --libvirt-schemas DIR)"
        )


def start_up_done() -> None:
    """What start-up created (modules, the catalog, options) lives as long as the process:
    the cyclic collector need not walk it again on every collection of a long run. The
    program starts with the collector off (:func:`famfs_xml.cli.main.main`); from here on it
    collects what the run leaves behind."""
    gc.freeze()
    gc.enable()


def report_format(requested: OutputFormat | None) -> OutputFormat:
    """The report format: as asked, else GitHub annotations inside GitHub Actions, else text."""
    from famfs_xml.cli.options import OutputFormat

    if requested is not None:
        return requested
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return OutputFormat.github
    return OutputFormat.text


def emit(text: str, output: Path | None, *, to_stderr: bool = False) -> None:
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageFailure(f"cannot write {output}: {exc.strerror}") from None
        return
    stream = sys.stderr if to_stderr else sys.stdout
    stream.write(text)
    stream.flush()


def render_report(
    result: RunResult,
    command: str,
    output_format: OutputFormat,
    *,
    statistics: bool = False,
    show_fixes: bool = False,
) -> str:
    from famfs_xml.cli.options import OutputFormat
    from famfs_xml.report import REPORTERS

    if statistics:
        from famfs_xml.report import statistics as stats

        if output_format is OutputFormat.json:
            return stats.render_json(result)
        return stats.render(result)
    text = REPORTERS[output_format.value](result, command)
    if show_fixes and output_format is OutputFormat.text:
        from famfs_xml.report import statistics as stats

        text = stats.render_fixes(result) + text
    return text


def exit_code_of(
    result: RunResult,
    fail_on: Severity,
    *,
    exit_zero: bool = False,
    changed_fails: bool = False,
) -> int:
    """Print the run's errors; the exit code its outcome calls for."""
    from famfs_xml.lint.engine import fails

    for error in result.errors:
        say(f"famfs-xml: error: {error}")
    if result.errors:
        return EXIT_ERROR
    if changed_fails and any(r.changed for r in result.files):
        return EXIT_FINDINGS
    if not exit_zero and fails(result.findings, fail_on):
        return EXIT_FINDINGS
    return EXIT_OK


def lint(paths: list[str], args: LintArgs) -> int:
    """``famfs-xml lint``."""
    from famfs_xml.lint.run import lint_paths

    check_targets(paths, args, "files or directories to lint (- for stdin)")
    settings = check_settings(args)
    start_up_done()
    result = lint_paths(paths, settings.options, only_domains=args.only_domains, jobs=args.jobs)
    report = render_report(
        result, "lint", report_format(args.output_format), statistics=args.statistics
    )
    emit(report, args.output)
    return exit_code_of(result, settings.fail_on, exit_zero=args.exit_zero)


def fix(paths: list[str], args: FixArgs) -> int:
    """``famfs-xml fix``."""
    from famfs_xml.lint.run import fix_paths

    check_targets(paths, args, "files or directories to fix (- for stdin)")
    settings = check_settings(args, args.unsafe_fixes)
    start_up_done()
    result = fix_paths(paths, settings.options, diff=args.diff, only_domains=args.only_domains)
    for note in result.notes:
        say(f"famfs-xml: note: {note}")
    if args.diff:
        sys.stdout.write("".join(result.diffs))
        for error in result.errors:
            say(f"famfs-xml: error: {error}")
        if result.errors:
            return EXIT_ERROR
        return EXIT_FINDINGS if result.diffs else EXIT_OK
    to_stdout = result.stdout_data is not None
    if to_stdout:
        sys.stdout.buffer.write(result.stdout_data or b"")
        sys.stdout.flush()
    report = render_report(
        result,
        "fix",
        report_format(args.output_format),
        statistics=args.statistics,
        show_fixes=args.show_fixes,
    )
    emit(report, args.output, to_stderr=to_stdout)
    return exit_code_of(result, settings.fail_on, changed_fails=args.exit_non_zero_on_fix)
