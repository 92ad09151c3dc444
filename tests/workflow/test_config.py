"""Config discovery, validation, and how the command line overrides it."""

from __future__ import annotations

from pathlib import Path

import pytest
from workflow_samples import Cli

from famfs_xml.core import units
from famfs_xml.core.findings import Severity
from famfs_xml.lint import config
from famfs_xml.lint.catalog import load_catalog

CATALOG = load_catalog()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_discovery_finds_the_nearest_file(tmp_path: Path) -> None:
    top = _write(tmp_path / ".famfs-xml.toml", 'ignore = ["FX106"]\n')
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert config.discover(nested) == top
    inner = _write(tmp_path / "a" / "pyproject.toml", '[tool.famfs-xml]\nfail-on = "error"\n')
    assert config.discover(nested) == inner


def test_pyproject_without_our_table_is_not_a_config(tmp_path: Path) -> None:
    top = _write(tmp_path / ".famfs-xml.toml", "")
    _write(tmp_path / "sub" / "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    assert config.discover(tmp_path / "sub") == top


@pytest.mark.parametrize(
    "table",
    [
        '[tool."famfs-xml"]\nfail-on = "error"\n',
        '[tool]\n"famfs-xml" = { fail-on = "error" }\n',
        'tool.famfs-xml.fail-on = "error"\n',
        # no "famfs" in the bytes: the quick look for it must not decide alone
        '[tool."\\u0066amfs-xml"]\nfail-on = "error"\n',
    ],
)
def test_every_spelling_of_our_pyproject_table_is_found(tmp_path: Path, table: str) -> None:
    found = _write(tmp_path / "pyproject.toml", table)
    assert config.discover(tmp_path) == found
    assert config.load(found, CATALOG).fail_on is Severity.ERROR


def test_dedicated_file_beats_pyproject_in_the_same_directory(tmp_path: Path) -> None:
    _write(tmp_path / "pyproject.toml", '[tool.famfs-xml]\nfail-on = "error"\n')
    dedicated = _write(tmp_path / ".famfs-xml.toml", "")
    assert config.discover(tmp_path) == dedicated


def test_nearest_file_wins_without_merging(tmp_path: Path) -> None:
    _write(tmp_path / ".famfs-xml.toml", 'ignore = ["FX106"]\nfail-on = "error"\n')
    inner = _write(tmp_path / "sub" / ".famfs-xml.toml", 'extend-select = ["FX403"]\n')
    loaded = config.resolve_config(CATALOG, start=inner.parent)
    assert loaded.path == inner
    assert loaded.ignore == () and loaded.fail_on is None


def test_all_keys(tmp_path: Path) -> None:
    path = _write(
        tmp_path / ".famfs-xml.toml",
        """\
select = ["FX3", "nvdimm-label"]
extend-select = ["FX401"]
ignore = ["FX306"]
fail-on = "error"

[per-file-ignores]
"legacy-*.xml" = ["FX302", "nvdimm-pmem-missing"]

[rules.FX302]
alignsize = "1GiB"

[rules.FX304]
size = "2 MiB"
""",
    )
    loaded = config.load(path, CATALOG)
    assert loaded.select == ("FX3", "nvdimm-label")
    assert loaded.extend_select == ("FX401",)
    assert loaded.ignore == ("FX306",)
    assert loaded.fail_on is Severity.ERROR
    assert loaded.per_file_ignores == (("legacy-*.xml", frozenset({"FX302", "FX303"})),)
    assert loaded.parameters == {
        "FX302": {"alignsize": units.GiB},
        "FX304": {"size": 2 * units.MiB},
    }


def test_pyproject_table(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "pyproject.toml",
        """\
[project]
name = "vms"

[tool.famfs-xml]
ignore = ["FX106"]
""",
    )
    assert config.load(path, CATALOG).ignore == ("FX106",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('colour = "red"\n', ".famfs-xml.toml: colour: unknown key"),
        ('select = ["FX999"]\n', ".famfs-xml.toml: select: unknown rule code or name 'FX999'"),
        ('ignore = "nvdimm-nope"\n', ".famfs-xml.toml: ignore: unknown rule code or name"),
        ("select = 3\n", ".famfs-xml.toml: select: expected a list"),
        ('fail-on = "fatal"\n', ".famfs-xml.toml: fail-on: 'fatal' is not error, warning or info"),
        (
            '[per-file-ignores]\n"a.xml" = ["FX000"]\n',
            '.famfs-xml.toml: per-file-ignores."a.xml": unknown rule code or name',
        ),
        (
            '[rules.FX302]\nalignsize = "3MiB"\n',
            ".famfs-xml.toml: rules.FX302.alignsize: '3MiB' is not a power of two",
        ),
        (
            '[rules.FX302]\nalignsize = "2 parsecs"\n',
            ".famfs-xml.toml: rules.FX302.alignsize: bad size '2 parsecs'",
        ),
        (
            '[rules.FX302]\nalignsize = "2"\n',
            ".famfs-xml.toml: rules.FX302.alignsize: bad size '2': expected a number and a unit",
        ),
        ('[rules.FX302]\nalign = "2MiB"\n', ".famfs-xml.toml: rules.FX302.align: unknown key"),
        (
            '[rules.FX304]\nsize = "64KiB"\n',
            ".famfs-xml.toml: rules.FX304.size: '64KiB' is below the minimum 128 KiB",
        ),
        ("[rules.FX301]\nshared = true\n", ".famfs-xml.toml: rules.FX301: FX301 has no parameters"),
        ("[rules.FX777]\nx = 1\n", ".famfs-xml.toml: rules.FX777: unknown rule code 'FX777'"),
        ("select = [\n", ".famfs-xml.toml: not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path / ".famfs-xml.toml", text)
    with pytest.raises(config.ConfigError) as raised:
        config.load(path, CATALOG)
    message = str(raised.value)
    assert message.startswith(str(tmp_path)), message
    assert expected in message
    assert "\n" not in message


def test_pyproject_errors_name_the_tool_table(tmp_path: Path) -> None:
    path = _write(tmp_path / "pyproject.toml", '[tool.famfs-xml]\nselcet = ["FX3"]\n')
    with pytest.raises(config.ConfigError, match=r"pyproject.toml: tool.famfs-xml.selcet: unknown"):
        config.load(path, CATALOG)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2MiB", 2 * units.MiB),
        ("1GiB", units.GiB),
        ("1 g", units.GiB),
        ("4096 bytes", 4096),
        ("2MB", 2_000_000),
        (2097152, 2 * units.MiB),
    ],
)
def test_parse_size(value: object, expected: int) -> None:
    assert config.parse_size(value) == expected


@pytest.mark.parametrize("value", ["", "MiB", "-1MiB", "0MiB", True, 1.5, "2 furlongs", 0])
def test_parse_size_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        config.parse_size(value)


def test_cli_select_replaces_config_selection_and_ignore_adds() -> None:
    loaded = config.Config(select=("FX3",), ignore=("FX302",))
    codes = config.effective_codes(CATALOG, loaded, config.Overrides())
    assert "FX301" in codes and "FX302" not in codes and "FX101" not in codes
    codes = config.effective_codes(CATALOG, loaded, config.Overrides(select=["FX302", "FX101"]))
    assert codes == {"FX302", "FX101"}
    codes = config.effective_codes(
        CATALOG, loaded, config.Overrides(extend_select=["FX302"], ignore=["FX303"])
    )
    assert "FX302" in codes and "FX303" not in codes


def test_fail_on_precedence() -> None:
    loaded = config.Config(fail_on=Severity.ERROR)
    assert config.effective_fail_on(loaded, config.Overrides()) is Severity.ERROR
    assert (
        config.effective_fail_on(loaded, config.Overrides(fail_on=Severity.INFO)) is Severity.INFO
    )
    assert config.effective_fail_on(config.Config(), config.Overrides()) is Severity.WARNING


# -- through the command line -------------------------------------------------------------------


def test_config_is_discovered_from_the_current_directory(
    cli: Cli, workdir: Path, broken_xml: str
) -> None:
    (workdir / "vm.xml").write_text(broken_xml)
    assert cli("lint", "vm.xml").code == 1
    (workdir / ".famfs-xml.toml").write_text('ignore = ["FX301", "FX302", "FX303", "FX5"]\n')
    result = cli("lint", "vm.xml")
    assert result.code == 0, result.stdout
    assert cli("lint", "--isolated", "vm.xml").code == 1


def test_per_file_ignores_match_path_and_basename(cli: Cli, workdir: Path, broken_xml: str) -> None:
    (workdir / "legacy").mkdir()
    (workdir / "legacy" / "old-vm.xml").write_text(broken_xml)
    (workdir / "new-vm.xml").write_text(broken_xml)
    (workdir / ".famfs-xml.toml").write_text(
        '[per-file-ignores]\n"old-*.xml" = ["FX3"]\n"new-vm.xml" = ["FX301"]\n'
    )
    result = cli("lint", "--format", "json", "legacy/old-vm.xml", "new-vm.xml", "--ignore", "FX501")
    codes = {(f["path"], f["code"]) for f in result.json()["findings"]}
    assert codes == {("new-vm.xml", "FX302"), ("new-vm.xml", "FX303")}


def test_rule_parameters_reach_the_rules(cli: Cli, workdir: Path, clean_xml: str) -> None:
    (workdir / "vm.xml").write_text(clean_xml)
    config_file = workdir / "site.toml"
    config_file.write_text('[rules.FX302]\nalignsize = "1GiB"\n[rules.FX304]\nsize = "32MiB"\n')
    result = cli("lint", "--config", str(config_file), "--format", "json", "vm.xml")
    messages = {f["code"]: f["message"] for f in result.json()["findings"]}
    assert "the dax device /dev/dax1.0 needs 1 GiB" in messages["FX302"]
    assert result.code == 1
    no_label = clean_xml.replace(
        "        <label>\n          <size unit='MiB'>16</size>\n        </label>\n", ""
    )
    (workdir / "vm.xml").write_text(no_label)
    result = cli("lint", "--config", str(config_file), "--format", "json", "vm.xml")
    messages = {f["code"]: f["message"] for f in result.json()["findings"]}
    assert "the famfs guide uses a 32 MiB label" in messages["FX304"]
    fixed = cli(
        "fix",
        "--config",
        str(config_file),
        "--unsafe-fixes",
        "--select",
        "FX304",
        "-",
        stdin=no_label.encode(),
    )
    assert "<size unit='MiB'>32</size>" in fixed.stdout


def test_cli_fail_on_overrides_config(cli: Cli, workdir: Path, clean_xml: str) -> None:
    no_label = clean_xml.replace(
        "        <label>\n          <size unit='MiB'>16</size>\n        </label>\n", ""
    )
    (workdir / "vm.xml").write_text(no_label)  # FX304: a missing label is a warning
    (workdir / ".famfs-xml.toml").write_text('fail-on = "error"\n')
    assert cli("lint", "vm.xml").code == 0
    assert cli("lint", "--fail-on", "warning", "vm.xml").code == 1


def test_bad_config_is_exit_2_with_one_line(cli: Cli, workdir: Path, clean_xml: str) -> None:
    (workdir / "vm.xml").write_text(clean_xml)
    (workdir / ".famfs-xml.toml").write_text('[rules.FX302]\nalignsize = "3MiB"\n')
    result = cli("lint", "vm.xml")
    assert result.code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert ".famfs-xml.toml: rules.FX302.alignsize" in result.stderr


def test_missing_explicit_config_is_exit_2(cli: Cli, workdir: Path, clean_xml: str) -> None:
    (workdir / "vm.xml").write_text(clean_xml)
    result = cli("lint", "--config", "nope.toml", "vm.xml")
    assert result.code == 2
    assert "nope.toml: config file not found" in result.stderr


def test_broken_pyproject_is_an_error_only_when_it_configures_us(tmp_path: Path) -> None:
    top = _write(tmp_path / ".famfs-xml.toml", "")
    other = _write(tmp_path / "a" / "pyproject.toml", "[tool.black\n")
    assert config.discover(other.parent) == top
    ours = _write(tmp_path / "b" / "pyproject.toml", "[tool.famfs-xml]\nselect = [\n")
    with pytest.raises(config.ConfigError, match=r"b/pyproject.toml: not valid TOML"):
        config.discover(ours.parent)
