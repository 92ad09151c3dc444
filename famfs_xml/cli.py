"""The ``famfs-xml`` command line: parse options, call the library, print, map to exit codes.

Exit codes: 0 nothing at or above ``--fail-on`` remains; 1 findings remain (``fix --diff``:
changes would be made); 2 usage error, unreadable path, bad config or internal error, with
one line on stderr and never a traceback.
"""

# No ``from __future__ import annotations`` here: typer reads the commands' signatures on
# every start, and string annotations would cost an eval per parameter.
import enum
import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, NoReturn

import typer

from famfs_xml import __version__

if TYPE_CHECKING:
    from famfs_xml.engine import LintOptions
    from famfs_xml.findings import Severity
    from famfs_xml.inventory import DeviceFacts
    from famfs_xml.run import RunResult

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

_APP_SETTINGS: dict[str, Any] = {
    "name": "famfs-xml",
    "help": "Lint and fix libvirt domains that share a famfs memory device; manage dax devices.",
    "add_completion": False,
    "no_args_is_help": True,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
    "context_settings": {"help_option_names": ["-h", "--help"]},
}
app = typer.Typer(**_APP_SETTINGS)


class UsageFailure(Exception):
    """A problem with what the user asked for: one line on stderr, exit 2."""


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"
    junit = "junit"


class FailOn(str, enum.Enum):
    error = "error"
    warning = "warning"
    info = "info"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"famfs-xml {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """famfs-xml: the famfs VM guide, checked and applied."""


Paths = Annotated[
    list[str],
    typer.Argument(help="Domain XML files or directories; - for stdin."),
]
Select = Annotated[
    list[str] | None,
    typer.Option("--select", help="Rules to run: codes, prefixes (FX3), names, tags or ALL."),
]
ExtendSelect = Annotated[
    list[str] | None,
    typer.Option("--extend-select", help="Rules to run in addition to the selection."),
]
Ignore = Annotated[list[str] | None, typer.Option("--ignore", help="Rules not to run.")]
FailOnOption = Annotated[
    FailOn, typer.Option("--fail-on", help="Lowest severity that makes the exit code 1.")
]
# lint and fix: None means "not given", so that the config file's fail-on applies
FailOnOverride = Annotated[
    FailOn | None,
    typer.Option(
        "--fail-on", help="Lowest severity that makes the exit code 1 [default: warning]."
    ),
]
InventoryOption = Annotated[
    Path | None,
    typer.Option(
        "--inventory",
        help="Backing-device facts: saved daxctl/ndctl list or devices --json output.",
    ),
]
FormatOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format", help="Output format [default: text; github when GITHUB_ACTIONS=true]."
    ),
]
OutputOption = Annotated[Path | None, typer.Option("--output", help="Write the report here.")]
ExitZero = Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even when findings remain.")]
HostOption = Annotated[
    bool, typer.Option("--host", help="Read backing-device facts from this machine (sysfs, stat).")
]
RootOption = Annotated[
    Path,
    typer.Option(
        "--root", help="With --host: read /sys, /proc, /etc and /boot under this directory."
    ),
]
SchemasOption = Annotated[
    Path | None,
    typer.Option(
        "--libvirt-schemas", help="libvirt's schema directory (or domain.rng); turns on FX901."
    ),
]
VerboseOption = Annotated[
    bool, typer.Option("-v", "--verbose", help="Say which rules were skipped.")
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Use this config file instead of the nearest .famfs-xml.toml."),
]
IsolatedOption = Annotated[bool, typer.Option("--isolated", help="Ignore every config file.")]
StatisticsOption = Annotated[
    bool, typer.Option("--statistics", help="Show a count per rule instead of each finding.")
]
OnlyDomainsOption = Annotated[
    bool,
    typer.Option(
        "--only-domains",
        help="Skip files whose root is not <domain> silently, as a directory scan "
        "does (for git hooks that see networks/ and other libvirt XML).",
    ),
]


def _facts(inventory: Path | None, host: bool, root: Path) -> "DeviceFacts | None":
    """Backing-device facts: a saved inventory first, then the live machine."""
    if inventory is None and not host:
        return None
    from famfs_xml.inventory import ChainedFacts, Inventory, InventoryError

    sources: list[DeviceFacts] = []
    if inventory is not None:
        try:
            sources.append(Inventory.from_file(inventory))
        except InventoryError as exc:
            raise UsageFailure(str(exc)) from None
    if host:
        from famfs_xml.host_facts import HostFacts

        if not root.is_dir():
            raise UsageFailure(f"cannot read root {root}: not a directory")
        sources.append(HostFacts(root))
    if not sources:
        return None
    return sources[0] if len(sources) == 1 else ChainedFacts(*sources)


class _Settings(NamedTuple):
    options: "LintOptions"
    fail_on: "Severity"


class _Selection(NamedTuple):
    """The rule-choosing options of lint and fix, as given on the command line."""

    select: list[str] | None
    extend_select: list[str] | None
    ignore: list[str] | None
    fail_on: FailOn | None
    config_file: Path | None
    isolated: bool


def _settings(
    selection: _Selection,
    facts_from: tuple[Path | None, bool, Path],
    unsafe_fixes: bool = False,
    schemas: Path | None = None,
    verbose: bool = False,
) -> _Settings:
    """Config file and command line, merged into the options of one run."""
    from famfs_xml import config
    from famfs_xml.catalog import CatalogError, load_catalog
    from famfs_xml.checks import OPT_IN_CODES
    from famfs_xml.engine import LintOptions
    from famfs_xml.findings import Severity
    from famfs_xml.selection import SelectionError

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
        facts = _facts(*facts_from)
    except (config.ConfigError, SelectionError, CatalogError) as exc:
        raise UsageFailure(str(exc)) from None
    if "FX901" in codes:
        _check_schema(schemas, verbose)
    options = LintOptions(
        codes, facts, parameters, unsafe_fixes, per_file_ignores=loaded.per_file_ignores
    )
    return _Settings(options, config.effective_fail_on(loaded, overrides))


def _options(
    select: list[str] | None,
    extend_select: list[str] | None,
    ignore: list[str] | None,
    facts_from: tuple[Path | None, bool, Path],
    unsafe_fixes: bool = False,
    schemas: Path | None = None,
    verbose: bool = False,
) -> "LintOptions":
    """The lint options for commands that select rules but have no config options of their
    own (attach, detach): the discovered config file, overridden by the command line."""
    selection = _Selection(select, extend_select, ignore, None, None, False)
    return _settings(selection, facts_from, unsafe_fixes, schemas, verbose).options


def _check_schema(schemas: Path | None, verbose: bool) -> None:
    from famfs_xml.libvirt_schema import find_schema

    if find_schema(schemas) is not None:
        return
    if schemas is not None:
        raise UsageFailure(f"no libvirt domain schema (domain.rng) in {schemas}")
    if verbose:
        typer.echo(
            "famfs-xml: note: FX901 skipped: libvirt's domain schema was not found "
            "(install libvirt's client tools or pass --libvirt-schemas DIR)",
            err=True,
        )


def _start_up_done() -> None:
    """What start-up created (modules, the catalog, options) lives as long as the process:
    the cyclic collector need not walk it again on every collection of a long run."""
    gc.freeze()


def _format(requested: OutputFormat | None) -> OutputFormat:
    """The report format: as asked, else GitHub annotations inside GitHub Actions, else text."""
    if requested is not None:
        return requested
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return OutputFormat.github
    return OutputFormat.text


def _emit(text: str, output: Path | None, *, to_stderr: bool = False) -> None:
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageFailure(f"cannot write {output}: {exc.strerror}") from None
        return
    stream = sys.stderr if to_stderr else sys.stdout
    stream.write(text)
    stream.flush()


def _report(
    result: "RunResult",
    command: str,
    output_format: OutputFormat,
    *,
    statistics: bool = False,
    show_fixes: bool = False,
) -> str:
    from famfs_xml.report import REPORTERS
    from famfs_xml.report import statistics as stats

    if statistics:
        if output_format is OutputFormat.json:
            return stats.render_json(result)
        return stats.render(result)
    text = REPORTERS[output_format.value](result, command)
    if show_fixes and output_format is OutputFormat.text:
        text = stats.render_fixes(result) + text
    return text


def _finish(
    result: "RunResult",
    fail_on: "Severity",
    *,
    exit_zero: bool = False,
    changed_fails: bool = False,
) -> NoReturn:
    from famfs_xml.engine import fails

    for error in result.errors:
        typer.echo(f"famfs-xml: error: {error}", err=True)
    if result.errors:
        raise typer.Exit(EXIT_ERROR)
    if changed_fails and any(r.changed for r in result.files):
        raise typer.Exit(EXIT_FINDINGS)
    if not exit_zero and fails(result.findings, fail_on):
        raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_OK)


@app.command()
def lint(
    paths: Paths,
    select: Select = None,
    extend_select: ExtendSelect = None,
    ignore: Ignore = None,
    fail_on: FailOnOverride = None,
    inventory: InventoryOption = None,
    host: HostOption = False,
    root: RootOption = Path("/"),
    output_format: FormatOption = None,
    output: OutputOption = None,
    exit_zero: ExitZero = False,
    statistics: StatisticsOption = False,
    config_file: ConfigOption = None,
    isolated: IsolatedOption = False,
    only_domains: OnlyDomainsOption = False,
    libvirt_schemas: SchemasOption = None,
    verbose: VerboseOption = False,
    jobs: Annotated[
        int,
        typer.Option(
            "--jobs",
            "-j",
            min=0,
            help="Worker processes; 0 (the default): one per core from 200 files on, none below.",
        ),
    ] = 0,
) -> None:
    """Check domain XML files against the famfs rules."""
    from famfs_xml.run import lint_paths

    selection = _Selection(select, extend_select, ignore, fail_on, config_file, isolated)
    settings = _settings(
        selection, (inventory, host, root), schemas=libvirt_schemas, verbose=verbose
    )
    _start_up_done()
    result = lint_paths(paths, settings.options, only_domains=only_domains, jobs=jobs)
    _emit(_report(result, "lint", _format(output_format), statistics=statistics), output)
    _finish(result, settings.fail_on, exit_zero=exit_zero)


@app.command()
def fix(
    paths: Paths,
    unsafe_fixes: Annotated[
        bool,
        typer.Option("--unsafe-fixes", help="Also apply fixes that change what the guest sees."),
    ] = False,
    diff: Annotated[
        bool,
        typer.Option(
            "--diff",
            help="Print a unified diff instead of writing; exit 1 if anything would change.",
        ),
    ] = False,
    exit_non_zero_on_fix: Annotated[
        bool,
        typer.Option(
            "--exit-non-zero-on-fix",
            help="Exit 1 when a file was changed, even if nothing remains (for git hooks).",
        ),
    ] = False,
    show_fixes: Annotated[
        bool, typer.Option("--show-fixes", help="List the fixes applied to each file.")
    ] = False,
    select: Select = None,
    extend_select: ExtendSelect = None,
    ignore: Ignore = None,
    fail_on: FailOnOverride = None,
    inventory: InventoryOption = None,
    host: HostOption = False,
    root: RootOption = Path("/"),
    output_format: FormatOption = None,
    output: OutputOption = None,
    statistics: StatisticsOption = False,
    config_file: ConfigOption = None,
    isolated: IsolatedOption = False,
    only_domains: OnlyDomainsOption = False,
    libvirt_schemas: SchemasOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Apply fixes in place (atomically); - reads stdin and writes the fixed XML to stdout."""
    from famfs_xml.run import fix_paths

    selection = _Selection(select, extend_select, ignore, fail_on, config_file, isolated)
    settings = _settings(
        selection, (inventory, host, root), unsafe_fixes, schemas=libvirt_schemas, verbose=verbose
    )
    _start_up_done()
    result = fix_paths(paths, settings.options, diff=diff, only_domains=only_domains)
    if diff:
        sys.stdout.write("".join(result.diffs))
        for error in result.errors:
            typer.echo(f"famfs-xml: error: {error}", err=True)
        if result.errors:
            raise typer.Exit(EXIT_ERROR)
        raise typer.Exit(EXIT_FINDINGS if result.diffs else EXIT_OK)
    to_stdout = result.stdout_data is not None
    if to_stdout:
        sys.stdout.buffer.write(result.stdout_data or b"")
        sys.stdout.flush()
    report = _report(
        result, "fix", _format(output_format), statistics=statistics, show_fixes=show_fixes
    )
    _emit(report, output, to_stderr=to_stdout)
    _finish(result, settings.fail_on, changed_fails=exit_non_zero_on_fix)


class ListFormat(str, enum.Enum):
    text = "text"
    json = "json"


@app.command("rules")
def rules_command(
    output_format: Annotated[
        ListFormat, typer.Option("--format", help="Output format.")
    ] = ListFormat.text,
) -> None:
    """List every rule: code, name, severity, fix applicability, tags and summary."""
    from famfs_xml.catalog import load_catalog
    from famfs_xml.rule_docs import rules_json, rules_table

    catalog = load_catalog()
    typer.echo(
        rules_json(catalog) if output_format is ListFormat.json else rules_table(catalog), nl=False
    )


@app.command()
def explain(
    rule: Annotated[str, typer.Argument(help="A rule code (FX302) or name (nvdimm-alignsize).")],
) -> None:
    """Show a rule's documentation with a bad and a good example."""
    from famfs_xml.catalog import find_rule
    from famfs_xml.rule_docs import explain_text

    found = find_rule(rule)
    if found is None:
        raise UsageFailure(f"unknown rule '{rule}' (see `famfs-xml rules`)")
    typer.echo(explain_text(found), nl=False)


def _register_extensions() -> None:
    """Commands that live in their own modules."""
    for module_name in ("famfs_xml.cli_devices", "famfs_xml.cli_attach"):
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.register(app)


# Commands defined in this module. Running one of them skips importing the others' modules
# (device and host tools, attach): start-up time is most of a one-file lint.
_CORE_COMMANDS = frozenset({"lint", "fix", "rules", "explain"})


def _app_for(args: list[str]) -> typer.Typer:
    """The app, or for a core command only that command under the same group: typer builds
    every registered command's parameters from its signature, a cost paid on each start."""
    if not args or args[0] not in _CORE_COMMANDS:
        _register_extensions()
        return app
    narrowed = typer.Typer(**_APP_SETTINGS)
    narrowed.registered_callback = app.registered_callback
    narrowed.registered_commands = [
        info for info in app.registered_commands if _command_name(info) == args[0]
    ]
    return narrowed


def _command_name(info: typer.models.CommandInfo) -> str:
    if info.name:
        return info.name
    assert info.callback is not None
    return info.callback.__name__.replace("_", "-")


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; every failure becomes one line on stderr."""
    args = sys.argv[1:] if argv is None else argv
    command = typer.main.get_command(_app_for(args))
    try:
        code = command.main(args=argv, prog_name="famfs-xml", standalone_mode=False)
    except UsageFailure as exc:
        typer.echo(f"famfs-xml: error: {exc}", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            # typer 0.29+ words bad values through pydantic ("Value error, ..."); keep the
            # message the same whichever typer is installed.
            message = exc.format_message().replace(": Value error, ", ": ", 1)
            typer.echo(f"famfs-xml: error: {message}", err=True)
            return EXIT_ERROR
        if os.environ.get("FAMFS_XML_DEBUG"):
            raise
        typer.echo(f"famfs-xml: internal error: {type(exc).__name__}: {exc}", err=True)
        return EXIT_ERROR
    return code if isinstance(code, int) else EXIT_OK


def main() -> NoReturn:
    sys.exit(run())
