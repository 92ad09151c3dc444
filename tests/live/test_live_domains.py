"""lint/fix/attach/detach --connect against a stand-in for libvirt: every way a change can
fail, and that libvirt's copy is as it was afterwards. (tests/live/test_daemon.py runs the
same flows against a real libvirtd.)"""

from __future__ import annotations

import json
import sys
import types

import pytest

from famfs_xml.lint.options import LintOptions
from famfs_xml.live import connection
from famfs_xml.live.domains import LiveDomain, fix_domains, redefine
from famfs_xml.live.settings import differences, memory_settings
from tests.conftest import Cli
from tests.live.fake_libvirt import FakeLibvirt, libvirt_copy

PRIVATE = libvirt_copy("FX301-nvdimm-private.xml", "vm1")  # one safe fix: access='shared'
CLEAN = libvirt_copy("FX301-nvdimm-private.xml", "vm2").replace(
    b"access='private'", b"access='shared'"
)
FIXED = PRIVATE.replace(b"access='private'", b"access='shared'")  # vm1 after fix


def _keeps_4k_alignsize(xml: bytes) -> bytes:
    """libvirt keeping another alignsize than the one written (in the fixed definition)."""
    if b"access='shared'" not in xml:
        return xml
    return xml.replace(b"<alignsize unit='KiB'>2048", b"<alignsize unit='KiB'>4")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeLibvirt:
    libvirt = FakeLibvirt({"vm1": PRIVATE, "vm2": CLEAN})
    monkeypatch.setattr(connection, "connect", lambda uri: libvirt)
    return libvirt


def test_lint_connect_lints_libvirts_definitions_together(cli: Cli, fake: FakeLibvirt) -> None:
    fake.definitions["vm2"] = CLEAN.replace(
        b"<size unit='KiB'>8388608</size>", b"<size unit='KiB'>4194304</size>"
    )
    result = cli("lint", "--connect", "test:///fake", "--all", "--format", "json")
    assert result.exit_code == 1, result.stderr
    found = {(f["path"], f["code"]) for f in json.loads(result.stdout)["findings"]}
    # FX501: vm2's nvdimm on the same /dev/dax0.0 disagrees with vm1's
    assert ("libvirt:vm1", "FX301") in found
    assert ("libvirt:vm2", "FX501") in found
    assert fake.defined == [] and fake.closed


def test_lint_connect_of_named_domains_only(cli: Cli, fake: FakeLibvirt) -> None:
    result = cli("lint", "--connect", "test:///fake", "vm2", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["files"] == 1


def test_fix_connect_defines_the_fix_and_says_so(cli: Cli, fake: FakeLibvirt) -> None:
    result = cli("fix", "--connect", "test:///fake", "vm1", "vm2")
    assert result.exit_code == 0, result.stderr
    assert fake.definitions["vm1"] == FIXED
    assert fake.defined == [FIXED]  # vm2 needed nothing
    assert result.stdout.splitlines()[0] == (
        "libvirt:vm1: fixed (FX301) in libvirt's definition; "
        "libvirt kept every memory setting written"
    )


def test_fix_connect_tells_a_running_domain_apart(cli: Cli, fake: FakeLibvirt) -> None:
    fake.running.add("vm1")
    result = cli("fix", "--connect", "test:///fake", "vm1")
    assert result.exit_code == 0, result.stderr
    assert "running: the change applies at its next boot" in result.stdout


def test_fix_connect_diff_defines_nothing(cli: Cli, fake: FakeLibvirt) -> None:
    result = cli("fix", "--connect", "test:///fake", "--all", "--diff")
    assert result.exit_code == 1
    assert "-    <memory model='nvdimm' access='private'>" in result.stdout
    assert "+    <memory model='nvdimm' access='shared'>" in result.stdout
    assert result.stdout.startswith("--- a/libvirt:vm1\n+++ b/libvirt:vm1\n")
    assert fake.defined == [] and fake.definitions["vm1"] == PRIVATE


def test_a_refused_define_leaves_the_definition(cli: Cli, fake: FakeLibvirt) -> None:
    fake.refuse = lambda _xml: "unsupported configuration: something libvirt dislikes"
    result = cli("fix", "--connect", "test:///fake", "vm1")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "famfs-xml: error: libvirt:vm1: libvirt refused the new definition (unsupported "
        "configuration: something libvirt dislikes); its definition is unchanged"
    ]
    assert fake.definitions["vm1"] == PRIVATE
    assert "FX301" in result.stdout  # the report is of what libvirt holds: still private


def test_a_differing_read_back_restores_the_old_definition(cli: Cli, fake: FakeLibvirt) -> None:
    # libvirt accepts the definition but keeps another alignsize than the one written
    fake.keep = _keeps_4k_alignsize
    result = cli("fix", "--connect", "test:///fake", "vm1")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "famfs-xml: error: libvirt:vm1: libvirt did not keep what was written (nvdimm "
        "/dev/dax0.0 alignsize 2 MiB written, 4 KiB kept); its previous definition was restored"
    ]
    assert fake.definitions["vm1"] == PRIVATE
    assert fake.defined[-1] == PRIVATE


def test_a_definition_changed_since_it_was_read_is_not_overwritten(fake: FakeLibvirt) -> None:
    domain = LiveDomain("vm1", PRIVATE, running=False)
    someone_elses = PRIVATE.replace(b"<title>", b"<title>edited ")
    fake.definitions["vm1"] = someone_elses
    options = LintOptions(frozenset({"FX301"}))
    outcome = fix_domains(fake, [domain], options, diff=False)
    assert outcome.result.errors == [
        "libvirt:vm1: libvirt's definition changed since it was read; nothing was defined "
        "(run famfs-xml again)"
    ]
    assert fake.defined == [] and fake.definitions["vm1"] == someone_elses


def test_a_failed_restore_is_reported_with_where_to_look(fake: FakeLibvirt) -> None:
    fake.keep = _keeps_4k_alignsize
    calls = iter([None, "operation failed: the disk is full"])
    fake.refuse = lambda _xml: next(calls)
    domain = LiveDomain("vm1", PRIVATE, running=False)
    with pytest.raises(Exception, match="restoring its previous definition failed") as failure:
        redefine(fake, domain, FIXED)
    assert "virsh dumpxml --inactive vm1" in str(failure.value)


def test_attach_connect_is_all_or_none(cli: Cli, fake: FakeLibvirt) -> None:
    refused_for = {"vm2"}
    fake.refuse = lambda xml: "no room" if b"<name>vm2</name>" in xml and refused_for else None
    result = cli(
        "attach",
        "--connect",
        "test:///fake",
        "vm1",
        "vm2",
        "--source",
        "/dev/dax7.0",
        "--size",
        "4GiB",
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "famfs-xml: error: libvirt:vm2: libvirt refused the new definition (no room); "
        "its definition is unchanged",
        "famfs-xml: error: libvirt:vm1: undone with the others: "
        "its previous definition was restored",
    ]
    assert fake.definitions == {"vm1": PRIVATE, "vm2": CLEAN}
    refused_for.clear()
    result = cli(
        "attach",
        "--connect",
        "test:///fake",
        "vm1",
        "vm2",
        "--source",
        "/dev/dax7.0",
        "--size",
        "4GiB",
    )
    assert result.exit_code == 1, result.stderr  # vm1's FX301 remains
    assert all(b"/dev/dax7.0" in xml for xml in fake.definitions.values())
    assert result.stdout.splitlines()[:2] == [
        "libvirt:vm1: attached /dev/dax7.0 (4 GiB, slot 1, NUMA node 0); "
        "libvirt kept every memory setting written",
        "libvirt:vm2: attached /dev/dax7.0 (4 GiB, slot 1, NUMA node 0); "
        "libvirt kept every memory setting written",
    ]


def test_detach_connect_diff_defines_nothing(cli: Cli, fake: FakeLibvirt) -> None:
    result = cli(
        "detach", "--connect", "test:///fake", "--all", "--source", "/dev/dax0.0", "--diff"
    )
    assert result.exit_code == 1
    assert "-    <memory model='nvdimm' access='shared'>" in result.stdout
    assert fake.defined == []


def test_a_transient_domain_has_no_definition_to_change(cli: Cli, fake: FakeLibvirt) -> None:
    fake.transient.add("vm1")
    fake.running.add("vm1")
    result = cli("fix", "--connect", "test:///fake", "vm1")
    assert (result.exit_code, result.stderr) == (
        2,
        "famfs-xml: error: vm1 is a transient domain: libvirt holds no definition of it "
        "to change\n",
    )
    result = cli("fix", "--connect", "test:///fake", "--all")
    assert result.exit_code == 0, result.stderr
    assert fake.defined == []  # vm1 passed by, vm2 clean
    assert cli("lint", "--connect", "test:///fake", "--all").exit_code == 1  # vm1 still linted


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["lint", "--connect", "test:///fake"],
            "--connect test:///fake: name the domains, or give --all",
        ),
        (
            ["fix", "--connect", "test:///fake", "--all", "vm1"],
            "give domain names or --all, not both",
        ),
        (["lint", "--all", "vm.xml"], "--all needs --connect URI"),
        (["attach", "--all", "--source", "/dev/dax0.0"], "--all needs --connect URI"),
        (["lint", "--connect", "test:///fake", "nope"], "test:///fake has no domain named 'nope'"),
        (["fix"], "name the files or directories to fix (- for stdin), or give --connect URI"),
        (["detach", "--source", "/x"], "name the domain files to change, or give --connect URI"),
    ],
)
def test_usage_errors_are_one_line(
    cli: Cli, fake: FakeLibvirt, args: list[str], message: str
) -> None:
    result = cli(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"famfs-xml: error: {message}\n",
    )


def test_a_missing_binding_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "libvirt", None)  # import libvirt raises ImportError
    result = cli("lint", "--connect", "qemu:///system", "--all")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"famfs-xml: error: {connection.BINDING_MISSING}\n"


def test_a_directory_named_libvirt_is_no_binding(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """tests/libvirt on sys.path imports as an empty package where the binding is missing."""
    monkeypatch.setitem(sys.modules, "libvirt", types.ModuleType("libvirt"))
    result = cli("lint", "--connect", "qemu:///system", "--all")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"famfs-xml: error: {connection.BINDING_MISSING}\n"


def test_an_unreachable_uri_is_one_line(cli: Cli) -> None:
    if connection.installed_binding() is None:
        pytest.skip("libvirt's Python binding is not installed")
    result = cli("fix", "--connect", "qemu+tcp://host.invalid/system", "--all")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "famfs-xml: error: cannot connect to qemu+tcp://host.invalid/system: "
    )
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_settings_differences_name_the_setting_and_both_values() -> None:
    grown = CLEAN.replace(
        b"<memory unit='KiB'>25165824</memory>", b"<memory unit='KiB'>26214400</memory>"
    )
    assert differences(memory_settings(CLEAN), memory_settings(grown)) == [
        "memory 24 GiB written, 25 GiB kept"
    ]
    assert differences(memory_settings(CLEAN), memory_settings(CLEAN)) == []
    unparsable = memory_settings(b"<domain")
    assert differences(memory_settings(CLEAN), unparsable)[0] == "memory 24 GiB written, none kept"
