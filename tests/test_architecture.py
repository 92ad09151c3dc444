"""The package's layers, and the one declaration of the domain commands' options."""

from __future__ import annotations

import typer
from importlinter import configuration
from importlinter.application.use_cases import lint_imports

from famfs_xml.cli import app as cli
from famfs_xml.cli import plain
from famfs_xml.cli.attach import register as register_attach
from famfs_xml.cli.options import (
    REQUIRED,
    AttachArgs,
    DetachArgs,
    FixArgs,
    LintArgs,
    declared,
    plain_flags,
)
from famfs_xml.core.toml import tomllib
from tests.conftest import REPO

COMMANDS = {"lint": LintArgs, "fix": FixArgs, "attach": AttachArgs, "detach": DetachArgs}


def test_import_contracts_are_kept() -> None:
    """The layers of docs/architecture.md hold: what ``lint-imports`` checks in CI."""
    configuration.configure()
    assert lint_imports(config_filename=str(REPO / "pyproject.toml"), cache_dir=None, no_logo=True)


def test_the_contracts_cover_layers_independence_and_circles() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    kinds = {contract["type"] for contract in contracts}
    assert {"layers", "independence", "acyclic_siblings"} <= kinds
    independent = next(c for c in contracts if c["type"] == "independence")
    assert set(independent["modules"]) == {"famfs_xml.lint", "famfs_xml.host"}


def _typer_options() -> dict[str, dict[str, typer.core.TyperOption]]:
    register_attach(cli.app)
    group = typer.main.get_command(cli.app)
    assert isinstance(group, typer.core.TyperGroup)
    return {
        name: {
            param.name: param
            for param in group.commands[name].params
            if isinstance(param, typer.core.TyperOption) and param.name is not None
        }
        for name in COMMANDS
    }


def test_typer_builds_each_command_from_the_declaration() -> None:
    built = _typer_options()
    for command, args_type in COMMANDS.items():
        declared_here = {item.name: item for item in declared(args_type)}
        assert set(built[command]) == set(declared_here), command
        for name, item in declared_here.items():
            param = built[command][name]
            assert tuple(param.opts + param.secondary_opts) == item.opt.flags
            assert param.help == item.opt.help
            assert param.required == (item.default is REQUIRED)
            if item.default is not REQUIRED:
                assert param.default == item.default, (command, name)


def test_the_launcher_knows_exactly_lints_value_less_flags() -> None:
    lint_flags = {
        spelling: param.name
        for param in _typer_options()["lint"].values()
        if param.is_flag
        for spelling in param.opts + param.secondary_opts
    }
    assert plain.LINT_FLAGS == lint_flags == plain_flags(LintArgs)
    assert set(plain.JOBS) == set(_typer_options()["lint"]["jobs"].opts)
