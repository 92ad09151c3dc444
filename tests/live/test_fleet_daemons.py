"""Two real libvirt daemons as two hypervisors in one run: the system libvirtd (host "sys")
and a session libvirtd of another user with its own sockets and state (host "lab"),
reached through libvirt's remote transport ``qemu+unix:///session?socket=…``.

Each daemon holds its own domains. The claims shown on them: ``lint --connect A --connect B
--all`` reads both, FX501 compares each host's domains only, a declared shared device is
compared (and its outlier fixed, through the daemon that holds it) across both, and a
stopped daemon is reported without hiding the other's findings.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from famfs_xml.core.libvirt_version import LibvirtVersion
from tests.conftest import Cli, CliResult
from tests.fleet_trees import domain
from tests.live.libvirt_daemon import PREFIX, Daemon, virsh
from tests.live.session_daemon import SessionDaemon

pytestmark = pytest.mark.usefixtures("daemon")

SYSTEM = "sys=qemu:///system"
# Backing paths no other daemon test uses: the system daemon is shared with them.
WEB, CXL_SYS, CXL_LAB = "/dev/dax17.0", "/dev/dax18.0", "/dev/dax19.0"
ON_SYSTEM = {
    f"{PREFIX}fleet-web1": {"backing": WEB},
    f"{PREFIX}fleet-web2": {"backing": WEB},
    f"{PREFIX}fleet-web3": {"backing": WEB, "label_mib": 32},
    f"{PREFIX}fleet-cxl-a": {"backing": CXL_SYS, "size_gib": 4},
}
ON_LAB = {
    # the lab's own WEB device is 16 GiB: another device, not compared with the system's
    "fxfleet-db1": {"backing": WEB, "size_gib": 16},
    "fxfleet-db2": {"backing": WEB, "size_gib": 16},
    "fxfleet-cxl-b": {"backing": CXL_LAB, "size_gib": 8},
    "fxfleet-cxl-c": {"backing": CXL_LAB, "size_gib": 4},
}
SHARED = (
    f'[[hosts.shared-devices]]\nname = "cxl0"\npaths = {{ sys = "{CXL_SYS}", lab = "{CXL_LAB}" }}\n'
)


def tcg_domain(name: str, **settings: Any) -> str:
    """The guide's VM as a TCG domain of a machine type every QEMU here has."""
    xml = domain(name, **settings).replace("type='kvm'", "type='qemu'", 1)
    xml = xml.replace("machine='pc-q35-7.2'", "machine='q35'")
    return xml.replace(
        "<cpu mode='host-passthrough' check='none' migratable='on'>", "<cpu mode='maximum'>"
    )


@pytest.fixture(scope="module")
def lab(
    daemon: Daemon, session_daemon: SessionDaemon, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SessionDaemon]:
    """The domains defined on both daemons; the second daemon, running."""
    scratch = tmp_path_factory.mktemp("fleet-domains")
    for names, define in ((ON_SYSTEM, virsh), (ON_LAB, session_daemon.virsh)):
        for name, settings in names.items():
            path = scratch / f"{name}.xml"
            path.write_text(tcg_domain(name, **settings), encoding="utf-8")
            define("define", str(path))
    yield session_daemon
    for name in ON_SYSTEM:
        virsh("undefine", "--nvram", name, check=False)


def _lab(second: SessionDaemon) -> str:
    return f"lab={second.uri}"


def _ours(report: dict[str, Any], code: str = "FX501") -> dict[str, str]:
    """This module's domains' findings of ``code``: path -> message."""
    mine = tuple(f"libvirt:sys/{name}" for name in ON_SYSTEM) + tuple(
        f"libvirt:lab/{name}" for name in ON_LAB
    )
    return {
        f["path"]: f["message"]
        for f in report["findings"]
        if f["code"] == code and f["path"] in mine
    }


def _json(result: CliResult) -> dict[str, Any]:
    assert result.stdout, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _daemon_release(uri: str) -> str:
    """The release the daemon at ``uri`` runs, as virsh asks it."""
    text = subprocess.run(
        ["virsh", "-c", uri, "version", "--daemon"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    match = re.search(r"Running against daemon: (\S+)", text)
    assert match is not None, text
    return str(LibvirtVersion.parse(match.group(1)))


def test_lint_reads_both_daemons_in_one_run(cli: Cli, lab: SessionDaemon) -> None:
    result = cli("lint", "--connect", SYSTEM, "--connect", _lab(lab), "--all", "--format", "json")
    assert result.exit_code == 1, result.stderr
    report = _json(result)
    hosts = {host["name"]: host for host in report["hosts"]}
    assert list(hosts) == ["sys", "lab"]
    assert hosts["lab"]["uri"] == lab.uri and hosts["lab"]["domains"] == len(ON_LAB)
    assert hosts["sys"]["domains"] >= len(ON_SYSTEM)
    for name, uri in (("sys", "qemu:///system"), ("lab", lab.uri)):
        assert hosts[name]["error"] is None
        # each host's rules speak of its own daemon's release (getLibVersion)
        assert hosts[name]["libvirt"] == {"version": _daemon_release(uri), "source": "connect"}
    found = _ours(report)
    # the system's outlier, named once; the lab's 16 GiB device is its own; the lab's two
    # domains on its CXL path disagree with no majority: both named
    assert sorted(found) == [
        "libvirt:lab/fxfleet-cxl-b",
        "libvirt:lab/fxfleet-cxl-c",
        f"libvirt:sys/{PREFIX}fleet-web3",
    ]
    assert found[f"libvirt:sys/{PREFIX}fleet-web3"] == (
        f"{WEB} on host sys is shared by 3 domains: label size 32 MiB here, 16 MiB in both "
        f"others (libvirt:sys/{PREFIX}fleet-web1, libvirt:sys/{PREFIX}fleet-web2)"
    )


def test_a_file_of_hypervisors_reads_the_same(cli: Cli, lab: SessionDaemon, tmp_path: Path) -> None:
    inventory = tmp_path / "hypervisors"
    inventory.write_text(f"# this machine's two daemons\n{SYSTEM}\n{_lab(lab)}\n")
    by_file = _json(cli("lint", "--hypervisors", str(inventory), "--all", "--format", "json"))
    by_options = _json(
        cli("lint", "--connect", SYSTEM, "--connect", _lab(lab), "--all", "--format", "json")
    )
    assert _ours(by_file) == _ours(by_options)
    assert [host["name"] for host in by_file["hosts"]] == ["sys", "lab"]


def test_a_stopped_daemon_is_reported_and_the_other_goes_on(cli: Cli, lab: SessionDaemon) -> None:
    lab.stop()
    try:
        result = cli("lint", "--connect", SYSTEM, "--connect", _lab(lab), "--all")
        assert result.exit_code == 2
        [error] = [line for line in result.stderr.splitlines() if "host lab" in line]
        assert error.startswith(
            f"famfs-xml: error: host lab ({lab.uri}): cannot connect to {lab.uri}: "
        )
        assert f"libvirt:sys/{PREFIX}fleet-web3:" in result.stdout  # the system's findings
        report = _json(
            cli("lint", "--connect", SYSTEM, "--connect", _lab(lab), "--all", "--format", "json")
        )
        hosts = {host["name"]: host for host in report["hosts"]}
        assert hosts["lab"]["error"].startswith(f"cannot connect to {lab.uri}")
        assert hosts["sys"]["error"] is None
        assert list(_ours(report)) == [f"libvirt:sys/{PREFIX}fleet-web3"]
    finally:
        lab.start()
    assert lab.virsh("list", "--all", "--name").stdout.split() == sorted(ON_LAB)  # kept


def test_a_shared_device_is_compared_and_fixed_across_the_daemons(
    cli: Cli, lab: SessionDaemon, tmp_path: Path
) -> None:
    config = tmp_path / "fleet.toml"
    config.write_text(SHARED)
    both = ("--connect", SYSTEM, "--connect", _lab(lab), "--config", str(config))
    report = _json(cli("lint", *both, "--all", "--format", "json"))
    found = _ours(report)
    assert "libvirt:lab/fxfleet-cxl-c" not in found  # 4 GiB, as the system's cxl-a
    assert found["libvirt:lab/fxfleet-cxl-b"] == (
        f"{CXL_LAB} on host lab (shared device cxl0, also {CXL_SYS} on sys) is shared by 3 "
        f"domains: target size 8 GiB here, 4 GiB in both others "
        f"(libvirt:sys/{PREFIX}fleet-cxl-a, libvirt:lab/fxfleet-cxl-c)"
    )
    cxl = [f"{PREFIX}fleet-cxl-a", "fxfleet-cxl-b", "fxfleet-cxl-c"]
    kept = cli("fix", *both, *cxl)
    assert kept.exit_code == 1  # a new target size is an unsafe fix
    fixed = cli("fix", *both, *cxl, "--unsafe-fixes")
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.startswith(
        "libvirt:lab/fxfleet-cxl-b: fixed (FX501, FX104) in libvirt's definition;"
    ), fixed.stdout
    held = lab.virsh("dumpxml", "--inactive", "fxfleet-cxl-b").stdout
    assert "<size unit='KiB'>4194304</size>" in held  # 4 GiB, defined through the session daemon
    assert lab.saved.joinpath("fxfleet-cxl-b.xml").read_text().count("4194304") >= 1
    after = _ours(_json(cli("lint", *both, "--all", "--format", "json")))
    assert not [path for path in after if "cxl" in path]
