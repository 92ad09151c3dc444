"""A repository of many hypervisors' domains: FX501 compares each host's domains, names the
outliers, compares a declared shared device across hosts, and the reports carry the host.

The 2000-domain case is generated in the test's directory (tests/fleet_trees.py); the small
fleet repository of the README is ``fixtures/fleet``.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from workflow_samples import Cli

from famfs_xml import api
from tests.conftest import FIXTURES, REPO
from tests.fleet_trees import OUTLIERS, domain, outlier_tree

FLEET = FIXTURES / "fleet"
DEFECTS = FIXTURES / "defects"


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _fx501(result_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in result_json["findings"] if f["code"] == "FX501"}


# -- which domains are compared ----------------------------------------------------------------


def test_a_directory_per_host_is_never_compared_by_default(cli: Cli, workdir: Path) -> None:
    """The issue's case: /dev/dax1.0 is 8 GiB on host A and 16 GiB on host B, two devices."""
    _write(
        workdir,
        {"hostA/vm1.xml": domain("vm1", size_gib=8), "hostB/vm2.xml": domain("vm2", size_gib=16)},
    )
    for each in ("hostA/vm1.xml", "hostB/vm2.xml", "."):
        result = cli("lint", each)
        assert result.code == 0, result.stdout + result.stderr


def test_one_host_default_compares_every_file_as_before(cli: Cli, workdir: Path) -> None:
    _write(
        workdir,
        {
            ".famfs-xml.toml": '[hosts]\ndefault = "one-host"\n',
            "hostA/vm1.xml": domain("vm1", size_gib=8),
            "hostB/vm2.xml": domain("vm2", size_gib=16),
        },
    )
    found = _fx501(cli("lint", "--format", "json", ".").json())
    assert sorted(found) == ["./hostA/vm1.xml", "./hostB/vm2.xml"]


def test_a_tie_names_every_domain_and_offers_no_fix(cli: Cli, workdir: Path) -> None:
    _write(workdir, {"qemu/vm1.xml": domain("vm1"), "qemu/vm2.xml": domain("vm2", label_mib=32)})
    result = cli("lint", "--format", "json", "qemu")
    found = _fx501(result.json())
    assert found["qemu/vm1.xml"]["message"] == (
        "/dev/dax1.0 is shared by 2 domains: label size 16 MiB here, 32 MiB in the other "
        "(qemu/vm2.xml) (a tie: no value is held by more than half of them)"
    )
    assert (
        "label size 32 MiB here, 16 MiB in the other (qemu/vm1.xml)"
        in (found["qemu/vm2.xml"]["message"])
    )
    assert all(finding["fix"] is None for finding in found.values())


def test_a_tie_of_the_defect_fixtures_has_no_fix() -> None:
    first, second = (DEFECTS / "FX501-a.xml").read_bytes(), (DEFECTS / "FX501-b.xml").read_bytes()
    [finding] = api.lint_text(first, select=["FX501"], peers=[second])
    assert finding.fix is None
    assert api.fix_text(first, peers=[second]) == api.fix_text(first)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_2000_domains_name_exactly_their_four_outliers(cli: Cli, workdir: Path, jobs: str) -> None:
    outliers = outlier_tree(workdir / "qemu")
    result = cli("lint", "--format", "json", "--jobs", jobs, "qemu")
    assert result.code == 1
    report = result.json()
    assert report["summary"]["findings"] == len(OUTLIERS) == 4
    found = _fx501(report)
    assert sorted(found) == sorted(f"qemu/{path.name}" for path in outliers)
    for finding in found.values():
        assert finding["message"] == (
            "/dev/dax1.0 is shared by 2000 domains: label size 32 MiB here, "
            "16 MiB in 1996 of the 1999 others"
        )
        assert finding["fix"]["applicability"] == "unsafe"  # the label area moves
        assert finding["host"] is None


def test_workers_offer_the_fixes_one_process_does(cli: Cli, workdir: Path) -> None:
    """A held file's fix is built in the parent, from the file read again."""
    outlier_tree(workdir / "qemu", count=240, outliers=())
    odd = domain("vm0100").replace(
        "<alignsize unit='MiB'>2</alignsize>", "<alignsize unit='MiB'>4</alignsize>"
    )
    (workdir / "qemu" / "vm0100.xml").write_text(odd, encoding="utf-8")
    one = cli("lint", "--format", "json", "--jobs", "1", "qemu").json()
    two = cli("lint", "--format", "json", "--jobs", "2", "qemu").json()
    assert one == two
    [finding] = one["findings"]
    assert finding["path"] == "qemu/vm0100.xml"
    assert finding["fix"] == {
        "applicability": "safe",
        "message": "set alignsize to 2 MiB, as most domains on /dev/dax1.0 have it",
    }


# -- fixes move the outliers, only as far as is safe ---------------------------------------------


def test_fix_moves_label_outliers_only_with_unsafe_fixes(cli: Cli, workdir: Path) -> None:
    outliers = outlier_tree(workdir / "qemu", count=40, outliers=(3, 30))
    before = {path: path.read_bytes() for path in outliers}
    kept = cli("fix", "qemu")
    assert kept.code == 1 and "Fixed 0 problems; found 2 problems" in kept.stdout
    assert all(path.read_bytes() == data for path, data in before.items())
    moved = cli("fix", "--unsafe-fixes", "--show-fixes", "qemu")
    assert moved.code == 0, moved.stdout
    assert "Fixed 2 problems" in moved.stdout
    for path in outliers:
        assert path.read_text() == domain(path.stem)  # exactly the majority's stanza
    assert cli("lint", "qemu").code == 0


def test_fix_moves_an_alignment_that_changes_nothing_for_the_guest(cli: Cli, workdir: Path) -> None:
    outlier_tree(workdir / "qemu", count=3, outliers=())
    odd = workdir / "qemu" / "vm0001.xml"
    odd.write_text(
        domain("vm0001").replace("<alignsize unit='MiB'>2", "<alignsize unit='MiB'>4"), "utf-8"
    )
    result = cli("fix", "qemu")
    assert result.code == 0, result.stdout
    assert odd.read_text() == domain("vm0001")


def test_no_fix_moves_a_domain_to_a_private_mapping(cli: Cli, workdir: Path) -> None:
    """Three domains map the device privately (FX301's errors), one shares it: FX501 names
    the one, but offers no fix toward the majority's private mapping."""
    private = {
        f"qemu/vm{n}.xml": domain(f"vm{n}").replace("access='shared'", "access='private'")
        for n in range(3)
    }
    _write(workdir, {**private, "qemu/vm9.xml": domain("vm9")})
    report = cli("lint", "--format", "json", "qemu").json()
    found = _fx501(report)
    assert list(found) == ["qemu/vm9.xml"] and found["qemu/vm9.xml"]["fix"] is None
    assert "mapping shared here, private in all 3 others" in found["qemu/vm9.xml"]["message"]
    assert cli("fix", "qemu").code == 0  # FX301's fixes share the others: then all agree


# -- hosts from the configuration: path patterns and shared devices -----------------------------


@pytest.fixture
def fleet(workdir: Path) -> Path:
    shutil.copytree(FLEET, workdir / "fleet")
    return workdir / "fleet"


def test_the_readme_shows_what_the_fleet_repository_gives(
    cli: Cli, fleet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fleet)
    result = cli("lint", ".")
    assert result.code == 1
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    lines = result.stdout.splitlines()
    assert len(lines) == 4  # three findings, the summary
    for line in lines:
        assert line in readme, line


def test_path_patterns_name_the_hosts_and_the_reports_carry_them(
    cli: Cli, fleet: Path, monkeypatch: pytest.MonkeyPatch, sarif_schema: dict[str, Any]
) -> None:
    import jsonschema

    monkeypatch.chdir(fleet)
    report = cli("lint", "--format", "json", "hosts").json()
    found = _fx501(report)
    assert {path: f["host"] for path, f in found.items()} == {
        "hosts/hv1/qemu/cxl-a.xml": "hv1",
        "hosts/hv1/qemu/web3.xml": "hv1",
        "hosts/hv2/qemu/cxl-b.xml": "hv2",
    }
    assert found["hosts/hv1/qemu/web3.xml"]["message"].startswith(
        "/dev/dax1.0 on host hv1 is shared by 3 domains: label size 32 MiB here"
    )
    sarif = json.loads(cli("lint", "--format", "sarif", "hosts").stdout)
    jsonschema.validate(sarif, sarif_schema)
    hosts = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r["properties"]
        for r in sarif["runs"][0]["results"]
    }
    assert hosts["hosts/hv2/qemu/cxl-b.xml"] == {"host": "hv2"}
    junit = ET.fromstring(cli("lint", "--format", "junit", "hosts").stdout)
    names = {suite.get("name"): suite.get("hostname") for suite in junit.iter("testsuite")}
    assert names["hosts/hv2/qemu/db1.xml"] == "hv2" and names["hosts/hv1/qemu/web1.xml"] == "hv1"
    github = cli("lint", "--format", "github", "hosts").stdout
    assert "file=hosts/hv1/qemu/web3.xml,line=22,col=5,title=FX501 on hv1::" in github


def test_a_shared_device_is_compared_across_exactly_its_hosts(
    cli: Cli, fleet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fleet)
    # a third host maps a /dev/dax2.0 of its own: no part of cxl0
    _write(fleet, {"hosts/hv3/qemu/solo.xml": domain("solo", size_gib=2, backing="/dev/dax2.0")})
    found = _fx501(cli("lint", "--format", "json", "hosts").json())
    assert sorted(found) == [
        "hosts/hv1/qemu/cxl-a.xml",
        "hosts/hv1/qemu/web3.xml",
        "hosts/hv2/qemu/cxl-b.xml",
    ]
    assert (
        "(shared device cxl0, also /dev/dax3.0 on hv2)"
        in (found["hosts/hv1/qemu/cxl-a.xml"]["message"])
    )
    config = fleet / ".famfs-xml.toml"
    config.write_text(config.read_text().split("[[hosts.shared-devices]]")[0])
    undeclared = _fx501(cli("lint", "--format", "json", "hosts").json())
    assert sorted(undeclared) == ["hosts/hv1/qemu/web3.xml"]


def test_files_no_pattern_names_keep_their_directory(
    cli: Cli, fleet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fleet)
    _write(fleet, {"templates/a.xml": domain("a", size_gib=4), "templates/b.xml": domain("b")})
    report = cli("lint", "--format", "json", "templates").json()
    assert [f["host"] for f in report["findings"]] == [None, None]  # a tie: both named
    assert report["findings"][0]["message"].startswith("/dev/dax1.0 is shared by 2 domains")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'path-patterns = ["hosts/*/qemu/*.xml"]',
            "hosts.path-patterns: 'hosts/*/qemu/*.xml' must name the host with {host} exactly once",
        ),
        ('path-patterns = ["/srv/{host}/*.xml"]', "must be a relative path pattern"),
        ('path-patterns = ["a**/{host}"]', "** must be a whole path segment"),
        ('default = "per-file"', "hosts.default: 'per-file' is not 'directory' or 'one-host'"),
        ("colour = 1", "hosts.colour: unknown key (known: path-patterns, default, shared-devices)"),
        (
            '[[hosts.shared-devices]]\npaths = { a = "/dev/dax0.0", b = "/dev/dax0.0" }',
            "hosts.shared-devices[1].name: expected the device's name",
        ),
        (
            '[[hosts.shared-devices]]\nname = "x"\npaths = { a = "/dev/dax0.0" }',
            "hosts.shared-devices[1].paths: expected the device's absolute path on each of two",
        ),
        (
            '[[hosts.shared-devices]]\nname = "x"\npaths = { a = "/d/0", b = "/d/1" }\n'
            '[[hosts.shared-devices]]\nname = "y"\npaths = { a = "/d/0", c = "/d/2" }',
            "hosts.shared-devices[2].paths.a: /d/0 on a is already x",
        ),
    ],
)
def test_a_bad_hosts_table_is_one_line_and_exit_2(
    cli: Cli, workdir: Path, table: str, message: str
) -> None:
    _write(workdir, {".famfs-xml.toml": f"[hosts]\n{table}\n", "vm.xml": domain("vm")})
    result = cli("lint", "vm.xml")
    assert result.code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert re.match(r"famfs-xml: error: .*\.famfs-xml\.toml: ", result.stderr)
