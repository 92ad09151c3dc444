"""Output formats and reporting options: SARIF, GitHub, JUnit, --statistics, --show-fixes,
--output and --exit-non-zero-on-fix."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from workflow_samples import BROKEN, CLEAN, Cli

from famfs_xml import __version__
from famfs_xml.lint.catalog import load_catalog
from famfs_xml.report import REPORTERS
from famfs_xml.report.github import escape_data, escape_property
from famfs_xml.report.sarif import artifact_uri

# vm1 is clean; vm2 is broken (three safe fixes); vm3 has a missing label (a warning with an
# unsafe fix). Each has its own backing device.
VM2 = BROKEN.replace("<name>vm1</name>", "<name>vm2</name>").replace("/dev/dax1.0", "/dev/dax2.0")
NO_LABEL = (
    CLEAN.replace("<name>vm1</name>", "<name>vm3</name>")
    .replace("/dev/dax1.0", "/dev/dax3.0")
    .replace("        <label>\n          <size unit='MiB'>16</size>\n        </label>\n", "")
)


@pytest.fixture
def domains(workdir: Path) -> Path:
    (workdir / "qemu").mkdir()
    (workdir / "qemu" / "vm1.xml").write_text(CLEAN)
    (workdir / "qemu" / "vm2.xml").write_text(VM2)
    (workdir / "qemu" / "vm3.xml").write_text(NO_LABEL)
    return workdir


FILES = ("qemu/vm1.xml", "qemu/vm2.xml", "qemu/vm3.xml")


def test_reporters_are_registered() -> None:
    assert sorted(REPORTERS) == ["github", "json", "junit", "sarif", "text"]


# -- SARIF --------------------------------------------------------------------------------------


def _sarif(cli: Cli, *args: str) -> dict[str, Any]:
    result = cli("lint", "--isolated", "--format", "sarif", *args)
    assert result.code in (0, 1), result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_sarif_validates_against_the_official_schema(
    cli: Cli, domains: Path, sarif_schema: dict[str, Any]
) -> None:
    import jsonschema

    for args in (FILES, ("qemu/vm1.xml",), ("--select", "ALL", *FILES)):
        jsonschema.validate(_sarif(cli, *args), sarif_schema)


def test_sarif_fix_output_validates(cli: Cli, domains: Path, sarif_schema: dict[str, Any]) -> None:
    import jsonschema

    result = cli("fix", "--isolated", "--format", "sarif", "--diff", *FILES)
    assert result.code == 1  # --diff: changes would be made
    result = cli("fix", "--isolated", "--format", "sarif", *FILES)
    jsonschema.validate(json.loads(result.stdout), sarif_schema)


def test_sarif_content(cli: Cli, domains: Path, snapshot: SnapshotAssertion) -> None:
    data = _sarif(cli, *FILES)
    assert data["$schema"].endswith("sarif-schema-2.1.0.json")
    assert data["version"] == "2.1.0"
    run = data["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "famfs-xml"
    assert driver["version"] == __version__
    assert driver["informationUri"].startswith("https://")
    catalog = load_catalog()
    assert [rule["id"] for rule in driver["rules"]] == [c for c in catalog if c.startswith("FX")]
    for rule in driver["rules"]:
        info = catalog[rule["id"]]
        assert rule["name"] == info.name
        assert rule["shortDescription"]["text"] == info.summary
        assert rule["fullDescription"]["text"] == info.explanation
        assert rule["helpUri"] == info.url
        assert rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
    for result in run["results"]:
        assert driver["rules"][result.pop("ruleIndex")]["id"] == result["ruleId"]
    assert run["results"] == snapshot  # without ruleIndex: it moves when rules are added


def test_sarif_fixes_are_byte_replacements_that_repair_the_file(cli: Cli, domains: Path) -> None:
    data = _sarif(cli, "qemu/vm2.xml")
    original = (domains / "qemu" / "vm2.xml").read_bytes()
    replacements = []
    for result in data["runs"][0]["results"]:
        for fix in result.get("fixes", []):
            for change in fix["artifactChanges"]:
                assert change["artifactLocation"]["uri"] == "qemu/vm2.xml"
                replacements.extend(change["replacements"])
    assert len(replacements) == 3
    patched = original
    # from the end backwards; of two insertions at one offset, the earlier result goes first
    order = sorted(
        enumerate(replacements),
        key=lambda item: (-item[1]["deletedRegion"]["byteOffset"], -item[0]),
    )
    for _, replacement in order:
        start = replacement["deletedRegion"]["byteOffset"]
        end = start + replacement["deletedRegion"]["byteLength"]
        text = replacement.get("insertedContent", {}).get("text", "").encode()
        patched = patched[:start] + text + patched[end:]
    assert cli("fix", "--isolated", "qemu/vm2.xml").code == 0
    assert patched == (domains / "qemu" / "vm2.xml").read_bytes()


def test_sarif_leaves_out_unsafe_fixes(cli: Cli, domains: Path) -> None:
    results = _sarif(cli, "qemu/vm3.xml")["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["FX304"]
    assert "fixes" not in results[0]
    assert results[0]["level"] == "warning"


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("qemu/vm 1.xml", "qemu/vm%201.xml"),
        ("/etc/libvirt/qemu/vm1.xml", "file:///etc/libvirt/qemu/vm1.xml"),
        ("vm#1.xml", "vm%231.xml"),
    ],
)
def test_sarif_uris(path: str, uri: str) -> None:
    assert artifact_uri(path) == uri


# -- GitHub annotations -------------------------------------------------------------------------


def test_github_output(cli: Cli, domains: Path, snapshot: SnapshotAssertion) -> None:
    result = cli("lint", "--isolated", "--format", "github", *FILES)
    assert result.code == 1
    assert result.stdout == snapshot


def test_github_is_chosen_inside_github_actions(
    cli: Cli, domains: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    auto = cli("lint", "--isolated", "qemu/vm2.xml")
    assert auto.stdout.startswith("::error file=qemu/vm2.xml,line=")
    explicit = cli("lint", "--isolated", "--format", "text", "qemu/vm2.xml")
    assert explicit.stdout.startswith("qemu/vm2.xml:")
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    assert cli("lint", "--isolated", "qemu/vm2.xml").stdout.startswith("qemu/vm2.xml:")


def test_github_escaping_follows_the_actions_toolkit() -> None:
    assert escape_data("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext: a,b"
    assert escape_property("dir:a,b%\n") == "dir%3Aa%2Cb%25%0A"


def test_github_escapes_paths_and_messages(cli: Cli, workdir: Path) -> None:
    name = "a,b:c%.xml"
    (workdir / name).write_text(BROKEN)
    out = cli("lint", "--isolated", "--format", "github", "--select", "FX301", name).stdout
    assert out.startswith("::error file=a%2Cb%3Ac%25.xml,line=19,col=5,title=FX301::nvdimm has")


def test_github_severities(cli: Cli, domains: Path) -> None:
    out = cli(
        "lint", "--isolated", "--format", "github", "--select", "FX304,FX403", "qemu/vm3.xml"
    ).stdout
    assert out.splitlines()[0].startswith("::warning file=qemu/vm3.xml,")
    cli_info = cli(
        "lint", "--isolated", "--format", "github", "--select", "FX005", "qemu/vm3.xml"
    ).stdout
    assert cli_info.startswith("::notice file=qemu/vm3.xml,line=1,col=1,title=FX005::")


# -- JUnit --------------------------------------------------------------------------------------


def test_junit_output(cli: Cli, domains: Path, snapshot: SnapshotAssertion) -> None:
    result = cli("lint", "--isolated", "--format", "junit", *FILES)
    assert result.stdout == snapshot
    root = ET.fromstring(result.stdout)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == list(FILES)
    assert root.get("failures") == str(len(root.findall(".//failure")))
    clean = suites[0].findall("testcase")
    assert len(clean) == 1 and clean[0].find("failure") is None


def test_junit_clean_run_has_a_passing_case(cli: Cli, domains: Path) -> None:
    result = cli("lint", "--isolated", "--format", "junit", "qemu/vm1.xml")
    assert result.code == 0
    root = ET.fromstring(result.stdout)
    cases = root.findall(".//testcase")
    assert len(cases) == 1 and cases[0].find("failure") is None
    assert root.get("failures") == "0" and root.get("tests") == "1"


def test_junit_with_no_files(cli: Cli, workdir: Path) -> None:
    (workdir / "empty").mkdir()
    root = ET.fromstring(cli("lint", "--isolated", "--format", "junit", "empty").stdout)
    assert len(root.findall(".//testcase")) == 1 and root.get("failures") == "0"


# -- --statistics, --show-fixes, --output, --exit-non-zero-on-fix --------------------------------


def test_statistics(cli: Cli, domains: Path, snapshot: SnapshotAssertion) -> None:
    result = cli("lint", "--isolated", "--statistics", *FILES)
    assert result.code == 1
    assert result.stdout == snapshot
    rows = cli("lint", "--isolated", "--statistics", "--format", "json", *FILES).json()
    assert {"code": "FX304", "name": "nvdimm-label", "count": 1, "fixable": False} in rows


def test_statistics_of_a_clean_run_is_empty(cli: Cli, domains: Path) -> None:
    result = cli("lint", "--isolated", "--statistics", "qemu/vm1.xml")
    assert (result.code, result.stdout) == (0, "")


def test_show_fixes(cli: Cli, domains: Path, snapshot: SnapshotAssertion) -> None:
    result = cli("fix", "--isolated", "--show-fixes", *FILES)
    assert result.stdout == snapshot
    again = cli("fix", "--isolated", "--show-fixes", *FILES)
    assert again.stdout.startswith("No fixes applied.\n")


def test_exit_non_zero_on_fix(cli: Cli, domains: Path) -> None:
    args = ("fix", "--isolated", "--ignore", "FX304", "--exit-non-zero-on-fix", *FILES)
    assert cli(*args).code == 1  # changed files, even though nothing remains
    assert cli(*args).code == 0  # nothing left to change
    (domains / "qemu" / "vm2.xml").write_text(VM2)
    plain = cli("fix", "--isolated", "--ignore", "FX304", *FILES)
    assert plain.code == 0  # without the option, a complete fix is a success


def test_output_file(cli: Cli, domains: Path, sarif_schema: dict[str, Any]) -> None:
    import jsonschema

    result = cli("lint", "--isolated", "--format", "sarif", "--output", "out.sarif", *FILES)
    assert result.code == 1
    assert result.stdout == ""
    jsonschema.validate(json.loads((domains / "out.sarif").read_text()), sarif_schema)


def test_output_to_an_unwritable_place_is_exit_2(cli: Cli, domains: Path) -> None:
    result = cli("lint", "--isolated", "--output", "no/such/dir/out.txt", *FILES)
    assert result.code == 2
    assert result.stderr.startswith("famfs-xml: error: cannot write no/such/dir/out.txt")


def test_sarif_has_no_fixes_for_files_that_are_not_plain_utf8(cli: Cli, workdir: Path) -> None:
    (workdir / "bom.xml").write_bytes(b"\xef\xbb\xbf" + VM2.encode())
    (workdir / "latin1.xml").write_bytes(
        b"<?xml version='1.0' encoding='ISO-8859-1'?>\n" + VM2.encode()
    )
    (workdir / "plain.xml").write_text(VM2)
    data = _sarif(cli, "bom.xml", "latin1.xml", "plain.xml")
    fixes: dict[str, int] = {}
    for result in data["runs"][0]["results"]:
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        fixes[uri] = fixes.get(uri, 0) + len(result.get("fixes", []))
    assert fixes == {"bom.xml": 0, "latin1.xml": 0, "plain.xml": 3}
