"""The lint path stays light: what it imports, and the catalog's cheap header read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence

import pytest

from famfs_xml.lint import catalog
from tests.conftest import FIXTURES, REPO

HEAVY = ("pydantic", "rich", "xmlschema", "jsonschema")
GUIDE = str(FIXTURES / "guide" / "f39-dev2.xml")


def _probe(
    probe: str, args: Sequence[str] = (), cwd: os.PathLike[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -c PROBE ARGS`` with the checkout importable and no GitHub Actions setting."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("GITHUB_ACTIONS", None)
    return subprocess.run(
        [sys.executable, "-c", probe, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def _modules_after(args: list[str]) -> set[str]:
    """The top-level modules a ``famfs-xml ARGS`` process has loaded when it ends."""
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['famfs-xml', *sys.argv[1:]]\n"
        "try:\n"
        "    runpy.run_module('famfs_xml', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "names = sorted({m.split('.')[0] for m in sys.modules})\n"
        "sys.__stderr__.write('\\nmodules: ' + ' '.join(names))\n"
    )
    proc = _probe(probe, args)
    loaded = set(proc.stderr.rsplit("modules: ", 1)[-1].split())
    assert "famfs_xml" in loaded, proc.stderr
    return loaded


def test_a_plain_lint_imports_neither_the_cli_framework_nor_anything_heavy() -> None:
    """lint with flags, options and paths, as git hooks and CI gates call it: no typer, no
    click, nothing heavy."""
    loaded = _modules_after(["lint", "--exit-zero", "--jobs", "1", "--format", "sarif", GUIDE])
    assert not loaded & {*HEAVY, "typer", "click"}, sorted(loaded & {*HEAVY, "typer", "click"})


# What a lint of a clean file, with no configuration file around, does without: each is
# imported only by the run that needs it (workers, a config file, a report format, a finding's
# position, a fix, the host's tools).
LAZY = (
    "pickle",
    "multiprocessing",
    "tomllib",
    "json",
    "dataclasses",
    "subprocess",
    "tempfile",
    "difflib",
    "xml.parsers.expat",
    "famfs_xml.report.statistics",
    "famfs_xml.lint.suppressions",
    "famfs_xml.host.tools",
)


@pytest.mark.parametrize(("output_format", "needs"), [("text", set()), ("sarif", {"json"})])
def test_a_lint_of_a_clean_file_imports_only_what_it_uses(
    tmp_path: os.PathLike[str], output_format: str, needs: set[str]
) -> None:
    probe = (
        "import sys\n"
        "from famfs_xml.cli.main import run\n"
        f"code = run(['lint', '--format', {output_format!r}, {GUIDE!r}])\n"
        "sys.__stderr__.write('\\nmodules: ' + ' '.join(sorted(sys.modules)))\n"
    )
    proc = _probe(probe, cwd=tmp_path)
    loaded = set(proc.stderr.rsplit("modules: ", 1)[-1].split())
    assert proc.returncode == 0 and "famfs_xml.lint.engine" in loaded, proc.stderr
    assert loaded & set(LAZY) == needs, sorted(loaded & set(LAZY))


def _typer_in_pinned_range() -> bool:
    from importlib.metadata import version

    major, minor = (int(part) for part in version("typer").split(".")[:2])
    return (major, minor) < (0, 29)


@pytest.mark.skipif(
    not _typer_in_pinned_range(),
    reason="typer >= 0.29 installed (outside pyproject's range; it imports "
    "pydantic): pip install '.[test]' to test the start-up path",
)
def test_lint_through_typer_imports_nothing_heavy() -> None:
    """A call the launcher leaves to typer: still no pydantic, rich or validators."""
    loaded = _modules_after(["lint", "-j1", "--format", "text", GUIDE])
    assert "typer" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


@pytest.mark.parametrize("code", sorted(catalog.load_catalog()))
def test_catalog_header_matches_the_whole_entry(code: str) -> None:
    rule = catalog.load_catalog()[code]
    assert rule.source is not None
    full = catalog._read_toml(rule.source)
    assert (
        rule.code,
        rule.name,
        rule.severity.label,
        rule.fix.value,
        rule.summary,
        list(rule.tags),
    ) == (
        full["code"],
        full["name"],
        full["severity"],
        full.get("fix", "none"),
        full["summary"].strip(),
        full.get("tags", []),
    )
    assert rule.explanation == full["explanation"].strip()
    assert json.dumps(rule.extra, sort_keys=True) == json.dumps(
        {k: v for k, v in full.items() if k not in catalog._KNOWN_KEYS}, sort_keys=True
    )


def test_catalog_entry_in_another_layout_is_read_whole(tmp_path: os.PathLike[str]) -> None:
    from pathlib import Path

    folder = Path(tmp_path)
    (folder / "FX777.toml").write_text(
        'explanation = """\nfirst\n"""\ncode = "FX777"\nname = "x"\nseverity = "info"\n'
        'summary = "s"\nlimit = 3\n',
        encoding="utf-8",
    )
    rule = catalog.load_catalog(folder)["FX777"]
    assert (rule.name, rule.explanation, rule.extra) == ("x", "first", {"limit": 3})


def test_rule_index_is_generated_from_the_toml_files() -> None:
    """The packaged index says what rules/*.toml say: regenerate it after editing a rule."""
    from_toml = catalog._from_toml_files(REPO / "rules")
    assert catalog.INDEX_PATH.read_text(encoding="utf-8") == catalog.render_index(from_toml), (
        "famfs_xml/lint/_rule_index.py is stale: run python -m famfs_xml.lint.catalog"
    )
    assert catalog.load_catalog() == from_toml


def test_a_stale_index_is_noticed(tmp_path: os.PathLike[str]) -> None:
    from pathlib import Path

    folder = Path(tmp_path)
    for path in (REPO / "rules").glob("*.toml"):
        (folder / path.name).write_bytes(path.read_bytes())
    entry = folder / "FX101.toml"
    entry.write_text(
        entry.read_text(encoding="utf-8").replace('summary = "', 'summary = "Edited: ', 1),
        encoding="utf-8",
    )
    edited = catalog.render_index(catalog._from_toml_files(folder))
    assert "Edited: " in edited
    assert edited != catalog.INDEX_PATH.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "args",
    [
        ["lint", GUIDE],  # the launcher's own path
        ["lint", "-j1", GUIDE],  # through typer
        ["fix", "--diff", GUIDE],
    ],
)
def test_the_collector_is_off_for_start_up_only(
    tmp_path: os.PathLike[str], args: list[str]
) -> None:
    """The program starts with the cyclic collector off and switches it on (with what
    start-up made frozen) before a command reads its first file."""
    probe = (
        "import gc, sys\n"
        "from famfs_xml.lint import run\n"
        "seen = []\n"
        "for name in ('lint_paths', 'fix_paths'):\n"
        "    real = getattr(run, name)\n"
        "    def spy(*a, _real=real, **k):\n"
        "        seen.append((gc.isenabled(), gc.get_freeze_count() > 0))\n"
        "        return _real(*a, **k)\n"
        "    setattr(run, name, spy)\n"
        "from famfs_xml.cli import main\n"
        "sys.argv = ['famfs-xml', *sys.argv[1:]]\n"
        "try:\n"
        "    main.main()\n"
        "except SystemExit:\n"
        "    sys.__stderr__.write(f'\\nseen: {seen}')\n"
    )
    proc = _probe(probe, args, cwd=tmp_path)
    assert proc.stderr.rsplit("seen: ", 1)[-1] == "[(True, True)]", proc.stderr
