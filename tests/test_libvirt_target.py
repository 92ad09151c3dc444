"""The libvirt release a run speaks of: where it comes from, what reports carry, and how the
rules whose outcome depends on it word each release (tests/libvirt has the real judges)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from famfs_xml import api
from famfs_xml.core.findings import Applicability, Finding, Severity
from famfs_xml.core.libvirt_version import LibvirtVersion
from famfs_xml.host.libvirt_install import installed_libvirt
from famfs_xml.lint.libvirt_releases import NUMA_CELL_ADDED, Era
from famfs_xml.live import connection
from tests.conftest import FIXTURES, Cli
from tests.live.fake_libvirt import FakeLibvirt, libvirt_copy

FX201 = FIXTURES / "defects" / "FX201-no-numa-cell.xml"
FX311 = FIXTURES / "defects" / "FX311-nvdimm-address-overlap.xml"
GUIDE = (FIXTURES / "guide" / "f39-dev2.xml").read_text()


def _only(text: str | bytes, code: str, **options: object) -> Finding:
    [finding] = [f for f in api.lint_text(text, **options) if f.code == code]  # type: ignore[arg-type]
    return finding


# -- releases ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "version"),
    [("12.8", (12, 8, 0)), ("12.8.0", (12, 8, 0)), ("9", (9, 0, 0)), (" 10.10.1 ", (10, 10, 1))],
)
def test_a_release_is_read_as_libvirt_writes_it(text: str, version: tuple[int, ...]) -> None:
    assert LibvirtVersion.parse(text) == version


@pytest.mark.parametrize("text", ["", "12.x", "v12.8", "12.8.0.1", "-1"])
def test_a_bad_release_says_so_on_one_line(text: str) -> None:
    with pytest.raises(ValueError, match="is not a libvirt version"):
        LibvirtVersion.parse(text)


def test_libvirts_own_number_and_the_short_form() -> None:
    assert LibvirtVersion.from_number(12_008_000) == (12, 8, 0)
    assert LibvirtVersion.from_number(9_000_000) == (9, 0, 0)
    assert str(LibvirtVersion(12, 8)) == "12.8" and str(LibvirtVersion(9, 5, 2)) == "9.5.2"


@pytest.mark.parametrize(
    ("target", "era"),
    [
        (None, Era.UNKNOWN),
        ("9.0", Era.OLD),
        ("9.5.3", Era.OLD),
        ("9.6", Era.NEW),
        ("12.8", Era.NEW),
    ],
)
def test_a_change_knows_which_side_a_release_is_on(target: str | None, era: Era) -> None:
    version = None if target is None else LibvirtVersion.parse(target)
    assert NUMA_CELL_ADDED.era(version) is era


# -- the installed libvirt, found without running it ------------------------------------------


def _fake_install(root: Path, soname: str, program: str = "usr/bin/virsh") -> Path:
    libdir = root / "usr" / "lib64"
    libdir.mkdir(parents=True)
    (libdir / soname).touch()
    (libdir / "libvirt.so.0").symlink_to(soname)
    (root / program).parent.mkdir(parents=True, exist_ok=True)
    (root / program).touch()
    return root


@pytest.mark.installed_libvirt
def test_the_library_file_name_tells_the_release(tmp_path: Path) -> None:
    root = _fake_install(tmp_path, "libvirt.so.0.12008.0", "usr/sbin/virtqemud")
    assert installed_libvirt(root) == (12, 8, 0)
    assert installed_libvirt(_fake_install(tmp_path / "f", "libvirt.so.0.10010.2")) == (10, 10, 2)


@pytest.mark.installed_libvirt
def test_a_library_without_a_libvirt_program_is_no_libvirt(tmp_path: Path) -> None:
    root = _fake_install(tmp_path, "libvirt.so.0.12008.0")
    (root / "usr" / "bin" / "virsh").unlink()
    assert installed_libvirt(root) is None
    assert installed_libvirt(tmp_path / "empty") is None


@pytest.mark.installed_libvirt
def test_the_release_found_is_the_one_virsh_reports() -> None:
    """On this machine (Debian 12's 9.0, or 12.8 inside the sid root): no process is run
    to find it, and it agrees with what virsh itself says."""
    if shutil.which("virsh") is None:
        assert installed_libvirt() is None
        return
    reported = subprocess.run(["virsh", "--version"], capture_output=True, text=True, check=True)
    assert str(installed_libvirt()) == re.sub(r"\.0$", "", reported.stdout.strip())


# -- where a run's release comes from ---------------------------------------------------------


def _json(cli: Cli, *args: str, cwd: Path | None = None) -> dict[str, object]:
    result = cli("lint", "--format", "json", *args, str(FX201), cwd=cwd)
    assert result.exit_code in (0, 1), result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_the_option_names_the_release_and_the_report_says_so(cli: Cli) -> None:
    assert _json(cli, "--libvirt-version", "12.8")["libvirt"] == {
        "version": "12.8",
        "source": "option",
    }
    assert _json(cli)["libvirt"] == {"version": None, "source": None}


def test_a_bad_option_is_one_line_and_exit_2(cli: Cli) -> None:
    result = cli("lint", "--libvirt-version", "twelve", str(FX201))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "famfs-xml: error: --libvirt-version: 'twelve' is not a libvirt version "
        "(e.g. 9.0 or 12.8.0)"
    ]


def test_the_config_names_the_release_and_the_option_wins(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".famfs-xml.toml").write_text('libvirt-version = "11.3"\n', encoding="utf-8")
    assert _json(cli, cwd=tmp_path)["libvirt"] == {"version": "11.3", "source": "config"}
    chosen = _json(cli, "--libvirt-version", "9.0", cwd=tmp_path)["libvirt"]
    assert chosen == {"version": "9.0", "source": "option"}


def test_a_bad_config_release_names_the_file_and_key(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".famfs-xml.toml").write_text("libvirt-version = 12.8\n", encoding="utf-8")
    result = cli("lint", str(FX201), cwd=tmp_path)
    assert result.exit_code == 2
    assert "libvirt-version: 12.8 is not a libvirt version" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.installed_libvirt
def test_without_option_or_config_the_installed_release_is_taken(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from famfs_xml.host import libvirt_install

    monkeypatch.setattr(
        libvirt_install, "installed_libvirt", lambda root=None: LibvirtVersion(10, 10)
    )
    assert _json(cli, "--isolated")["libvirt"] == {"version": "10.10", "source": "installed"}


def test_connect_takes_the_daemons_release_unless_the_option_names_one(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = FakeLibvirt(
        {"vm1": libvirt_copy("FX201-no-numa-cell.xml", "vm1")},
        version=LibvirtVersion(12, 8, 0),
    )
    monkeypatch.setattr(connection, "connect", lambda uri: daemon)
    result = cli("lint", "--connect", "test:///fake", "--all", "--format", "json")
    report = json.loads(result.stdout)
    assert report["libvirt"] == {"version": "12.8", "source": "connect"}
    [finding] = report["findings"]
    assert (finding["code"], finding["severity"]) == ("FX201", "warning")
    assert result.exit_code == 1  # a warning still fails by default (--fail-on warning)
    result = cli(
        "lint", "-c", "test:///fake", "--all", "--libvirt-version", "9.0", "--format", "json"
    )
    report = json.loads(result.stdout)
    assert report["libvirt"] == {"version": "9.0", "source": "option"}
    assert report["findings"][0]["severity"] == "error"


def test_sarif_carries_the_release(cli: Cli) -> None:
    result = cli("lint", "--format", "sarif", "--libvirt-version", "12.8", str(FX201))
    [run] = json.loads(result.stdout)["runs"]
    assert run["properties"] == {"libvirtVersion": "12.8", "libvirtVersionSource": "option"}


# -- FX201: the cell libvirt adds, and what each release does ----------------------------------


def test_fx201_says_what_the_target_does() -> None:
    data = FX201.read_bytes()
    old = _only(data, "FX201", libvirt_version="9.0")
    assert old.severity is Severity.ERROR
    assert 'libvirt 9.0 refuses the define: "At least one numa node' in old.message
    new = _only(data, "FX201", libvirt_version="12.8")
    assert new.severity is Severity.WARNING
    assert "libvirt 12.8 adds cell 0 of 32 GiB itself at define" in new.message
    unknown = _only(data, "FX201")
    assert unknown.severity is Severity.ERROR
    assert "libvirt up to 9.5 refuses the define" in unknown.message
    assert "libvirt 9.6 and later adds cell 0 of 32 GiB itself" in unknown.message


@pytest.mark.parametrize("target", ["9.0", "12.8", None])
def test_fx201_fix_is_libvirts_own_cell_for_every_target(target: str | None) -> None:
    """<memory> 40 GiB with an 8 GiB nvdimm: cell 0 of 32 GiB, nothing else changes."""
    data = FX201.read_bytes()
    fixed = api.fix_text(data, libvirt_version=target)
    changed = [line for line in fixed.splitlines() if line not in data.splitlines()]
    assert [line.strip() for line in changed] == [
        b"<cpu mode='host-passthrough' check='none' migratable='on'>",
        b"<numa>",
        b"<cell id='0' cpus='0-1' memory='32' unit='GiB'/>",
        b"</numa>",
        b"</cpu>",
    ]


def test_fx201_when_memory_leaves_no_ram_every_release_refuses() -> None:
    small = GUIDE.replace("<memory unit='GiB'>40</memory>", "<memory unit='GiB'>8</memory>")
    small = re.sub(r"\s*<numa>.*?</numa>", "", small, flags=re.DOTALL)
    for target in ("9.0", "12.8", None):
        finding = _only(small, "FX201", libvirt_version=target)
        assert finding.severity is Severity.ERROR
        assert "Memory size must be specified via <memory>" in finding.message
        assert finding.fix is not None and finding.fix.applicability is Applicability.UNSAFE
    smaller = small.replace("<memory unit='GiB'>8</memory>", "<memory unit='GiB'>4</memory>")
    message = _only(smaller, "FX201").message
    assert "Total size of memory devices exceeds the total memory size" in message


def test_fx201_on_max_memory_alone_adds_all_of_memory() -> None:
    bare = re.sub(r"\s*<numa>.*?</numa>", "", GUIDE, flags=re.DOTALL)
    bare = re.sub(r"\s*<memory model='nvdimm'.*?</memory>", "", bare, flags=re.DOTALL)
    finding = _only(bare, "FX201", libvirt_version="12.8")
    assert finding.message.startswith("<maxMemory> (memory hotplug) needs a guest NUMA cell")
    assert "adds cell 0 of 40 GiB itself" in finding.message
    fixed = api.fix_text(bare)
    assert b"<cell id='0' cpus='0-1' memory='40' unit='GiB'/>" in fixed


# -- FX301: libvirt's precedence of access ----------------------------------------------------

NO_ACCESS = GUIDE.replace("<memory model='nvdimm' access='shared'>", "<memory model='nvdimm'>")
CELL = "<cell id='0' cpus='0-1' memory='32' unit='GiB'/>"


def _cell_access(mode: str) -> str:
    return NO_ACCESS.replace(CELL, CELL.replace("/>", f" memAccess='{mode}'/>"))


def _backing_access(text: str, mode: str) -> str:
    return text.replace(
        "  <vcpu", f"  <memoryBacking>\n    <access mode='{mode}'/>\n  </memoryBacking>\n  <vcpu", 1
    )


def test_fx301_an_inherited_shared_mapping_is_a_warning_that_says_where_from() -> None:
    from_cell = _only(_cell_access("shared"), "FX301")
    assert from_cell.severity is Severity.WARNING
    assert "shared only through the memAccess='shared' of NUMA cell 0" in from_cell.message
    from_backing = _only(_backing_access(NO_ACCESS, "shared"), "FX301")
    assert from_backing.severity is Severity.WARNING
    assert "<memoryBacking><access mode='shared'/>" in from_backing.message
    for finding in (from_cell, from_backing):
        assert finding.fix is not None and finding.fix.applicability is Applicability.SAFE


def test_fx301_the_cell_comes_before_memory_backing() -> None:
    finding = _only(_backing_access(_cell_access("private"), "shared"), "FX301")
    assert finding.severity is Severity.ERROR
    assert "takes memAccess='private' of NUMA cell 0" in finding.message
    assert "share=off" in finding.message


def test_fx301_the_device_comes_before_the_cell() -> None:
    text = _cell_access("shared").replace(
        "<memory model='nvdimm'>", "<memory model='nvdimm' access='private'>"
    )
    finding = _only(text, "FX301")
    assert finding.severity is Severity.ERROR and "has access='private'" in finding.message


def test_fx301_plain_nvdimm_stays_an_error() -> None:
    finding = _only(NO_ACCESS, "FX301")
    assert finding.severity is Severity.ERROR
    assert finding.message.startswith("nvdimm has no access attribute: QEMU maps the backing")


# -- FX311 and FX102 say which release does what ------------------------------------------------


def test_fx311_words_each_release() -> None:
    data = FX311.read_bytes()
    assert (
        "libvirt 9.0 accepts the define and QEMU refuses to start"
        in _only(data, "FX311", libvirt_version="9.0").message
    )
    assert "libvirt 12.8 refuses the define" in _only(data, "FX311", libvirt_version="12.8").message
    both = _only(data, "FX311").message
    assert "libvirt up to 9.7 accepts" in both and "libvirt 9.8 and later refuses" in both


def test_fx102_without_slots_and_devices_is_only_advice_for_releases_that_accept_it() -> None:
    text = re.sub(r"\s*<memory model='nvdimm'.*?</memory>", "", GUIDE, flags=re.DOTALL)
    text = text.replace("<maxMemory slots='2' unit='GiB'>", "<maxMemory unit='GiB'>")
    assert _only(text, "FX102", libvirt_version="9.0").severity is Severity.ERROR
    assert _only(text, "FX102").severity is Severity.WARNING
    assert not [
        f for f in api.lint_text(text, libvirt_version="12.8") if f.code == "FX102"
    ]  # info, opt-in
    advice = _only(text, "FX102", libvirt_version="12.8", extend_select=["FX102"])
    assert advice.severity is Severity.INFO
    assert "libvirt 12.8 accepts it" in advice.message
