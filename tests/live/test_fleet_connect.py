"""Several hypervisors in one run (``--connect`` repeated, ``--hypervisors FILE``) against
stand-ins for libvirt: each daemon a host, one that does not answer reported while the
others go on, the hosts in the reports. (tests/live/test_fleet_daemons.py reads two real
daemons.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from famfs_xml.core.libvirt_version import LibvirtVersion
from famfs_xml.live import connection
from famfs_xml.live.connection import Hypervisor, LiveError
from famfs_xml.live.fleet import FleetError, Target, host_name, parse_target, read_inventory
from tests.conftest import Cli
from tests.fleet_trees import domain
from tests.live.fake_libvirt import FakeLibvirt

HV1, HV2, DOWN = "test:///hv1", "test:///hv2", "test:///down"
BOTH = ("--connect", f"hv1={HV1}", "--connect", f"hv2={HV2}")


def _xml(name: str, **kwargs: Any) -> bytes:
    return domain(name, **kwargs).encode()


@pytest.fixture
def daemons(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeLibvirt]:
    """hv1 (libvirt 9.0): three domains on its /dev/dax1.0, web3 with another label;
    hv2 (libvirt 12.8): two domains on its own /dev/dax1.0, a 16 GiB device."""
    found = {
        HV1: FakeLibvirt(
            {"web1": _xml("web1"), "web2": _xml("web2"), "web3": _xml("web3", label_mib=32)},
            version=LibvirtVersion(9, 0),
        ),
        HV2: FakeLibvirt(
            {"db1": _xml("db1", size_gib=16), "web1": _xml("web1", size_gib=16)},
            version=LibvirtVersion(12, 8),
        ),
    }
    for uri, fake in found.items():
        fake.uri = uri  # type: ignore[misc]

    def connect(uri: str) -> Hypervisor:
        if uri not in found:
            raise LiveError(
                f"cannot connect to {uri}: Failed to connect socket: Connection refused"
            )
        return found[uri]

    monkeypatch.setattr(connection, "connect", connect)
    return found


def _json(result: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_two_daemons_are_linted_in_one_run_each_as_its_host(
    cli: Cli, daemons: dict[str, FakeLibvirt]
) -> None:
    result = cli("lint", *BOTH, "--all", "--format", "json")
    assert result.exit_code == 1, result.stderr
    report = _json(result)
    assert report["hosts"] == [
        {
            "name": "hv1",
            "uri": HV1,
            "libvirt": {"version": "9.0", "source": "connect"},
            "domains": 3,
            "error": None,
        },
        {
            "name": "hv2",
            "uri": HV2,
            "libvirt": {"version": "12.8", "source": "connect"},
            "domains": 2,
            "error": None,
        },
    ]
    assert report["libvirt"] == {"version": None, "source": "connect"}  # each host its own
    assert report["summary"]["files"] == 5
    # hv2's /dev/dax1.0 is another device: its 16 GiB is no disagreement with hv1's 8 GiB
    [finding] = report["findings"]
    assert (finding["path"], finding["code"], finding["host"]) == (
        "libvirt:hv1/web3",
        "FX501",
        "hv1",
    )
    assert finding["message"] == (
        "/dev/dax1.0 on host hv1 is shared by 3 domains: label size 32 MiB here, 16 MiB in "
        "both others (libvirt:hv1/web1, libvirt:hv1/web2)"
    )
    assert all(fake.closed for fake in daemons.values())


def test_the_option_names_the_release_of_every_host(
    cli: Cli, daemons: dict[str, FakeLibvirt]
) -> None:
    report = _json(cli("lint", *BOTH, "--all", "--format", "json", "--libvirt-version", "12.8"))
    assert [host["libvirt"] for host in report["hosts"]] == [
        {"version": "12.8", "source": "option"}
    ] * 2
    assert report["libvirt"] == {"version": "12.8", "source": "option"}


def test_a_daemon_that_does_not_answer_is_reported_and_the_others_go_on(
    cli: Cli, daemons: dict[str, FakeLibvirt]
) -> None:
    result = cli("lint", *BOTH, "--connect", f"hv3={DOWN}", "--all")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"famfs-xml: error: host hv3 ({DOWN}): cannot connect to {DOWN}: Failed to connect "
        "socket: Connection refused"
    ]
    assert result.stdout.startswith("libvirt:hv1/web3:22:5: FX501 /dev/dax1.0 on host hv1 ")
    report = _json(cli("lint", *BOTH, "--connect", f"hv3={DOWN}", "--all", "--format", "json"))
    assert report["hosts"][2]["error"].startswith(f"cannot connect to {DOWN}")
    assert report["hosts"][2]["domains"] == 0 and report["hosts"][2]["libvirt"] is None
    sarif = json.loads(
        cli("lint", *BOTH, "--connect", f"hv3={DOWN}", "--all", "--format", "sarif").stdout
    )
    [run] = sarif["runs"]
    assert run["invocations"][0]["executionSuccessful"] is False
    assert [host["name"] for host in run["properties"]["hosts"]] == ["hv1", "hv2", "hv3"]
    assert run["results"][0]["properties"] == {"host": "hv1"}


def test_when_no_daemon_answers_it_is_one_line(cli: Cli, daemons: dict[str, FakeLibvirt]) -> None:
    result = cli("lint", "--connect", f"a={DOWN}", "--connect", "b=test:///gone", "--all")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "cannot connect to test:///gone" in result.stderr


def test_names_are_looked_up_on_every_host(cli: Cli, daemons: dict[str, FakeLibvirt]) -> None:
    report = _json(cli("lint", *BOTH, "web1", "--format", "json"))
    assert report["summary"]["files"] == 2  # hv1's web1 and hv2's
    assert [host["domains"] for host in report["hosts"]] == [1, 1]
    missing = cli("lint", *BOTH, "web1", "nowhere")
    assert missing.exit_code == 2
    assert missing.stderr == "famfs-xml: error: no host holds a domain named 'nowhere'\n"


def test_a_shared_device_is_compared_across_the_hosts_that_map_it(
    cli: Cli, daemons: dict[str, FakeLibvirt], tmp_path: Path
) -> None:
    config = tmp_path / "fleet.toml"
    config.write_text(
        '[[hosts.shared-devices]]\nname = "cxl0"\n'
        'paths = { hv1 = "/dev/dax1.0", hv2 = "/dev/dax1.0" }\n'
    )
    report = _json(cli("lint", *BOTH, "--all", "--config", str(config), "--format", "json"))
    found = {f["path"]: f["message"] for f in report["findings"]}
    # five domains on the one device: 8 GiB in three (hv1's), 16 GiB in two (hv2's)
    assert sorted(found) == ["libvirt:hv1/web3", "libvirt:hv2/db1", "libvirt:hv2/web1"]
    assert found["libvirt:hv2/db1"] == (
        "/dev/dax1.0 on host hv2 (shared device cxl0, also /dev/dax1.0 on hv1) is shared by "
        "5 domains: target size 16 GiB here, 8 GiB in 3 of the 4 others "
        "(libvirt:hv1/web1, libvirt:hv1/web2, libvirt:hv1/web3)"
    )

    fixed = cli("fix", *BOTH, "--all", "--config", str(config), "--unsafe-fixes")
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert b"<size unit='GiB'>8</size>" in daemons[HV2].definitions["db1"]
    assert daemons[HV1].definitions["web3"] == _xml("web3")  # the label of the two others
    assert daemons[HV1].definitions["web1"] == _xml("web1")  # the majority: untouched
    again = cli("lint", *BOTH, "--all", "--config", str(config))
    assert again.exit_code == 0, again.stdout


def test_fix_goes_on_when_one_daemon_does_not_answer(
    cli: Cli, daemons: dict[str, FakeLibvirt]
) -> None:
    result = cli("fix", *BOTH, "--connect", f"hv3={DOWN}", "--all", "--unsafe-fixes")
    assert result.exit_code == 2
    assert daemons[HV1].definitions["web3"] == _xml("web3")
    assert f"host hv3 ({DOWN})" in result.stderr


def test_attach_works_on_one_libvirt(cli: Cli, daemons: dict[str, FakeLibvirt]) -> None:
    result = cli("attach", *BOTH, "web1", "--source", "/dev/dax4.0", "--size", "1GiB")
    assert result.exit_code == 2
    assert "attach and detach change the domains of one libvirt" in result.stderr


def test_a_file_of_hypervisors(cli: Cli, daemons: dict[str, FakeLibvirt], tmp_path: Path) -> None:
    inventory = tmp_path / "hypervisors"
    inventory.write_text(f"# the rack\nhv1={HV1}\n\n  hv2={HV2}  \n")
    report = _json(cli("lint", "--hypervisors", str(inventory), "--all", "--format", "json"))
    assert [host["name"] for host in report["hosts"]] == ["hv1", "hv2"]
    inventory.write_text(f"hv1={HV1}\nhv2\n")
    bad = cli("lint", "--hypervisors", str(inventory), "--all")
    assert bad.exit_code == 2
    assert bad.stderr == f"famfs-xml: error: {inventory}:2: 'hv2' is no libvirt URI ([NAME=]URI)\n"
    missing = cli("lint", "--hypervisors", str(tmp_path / "none"), "--all")
    assert missing.exit_code == 2 and "No such file or directory" in missing.stderr


def test_two_uris_of_one_host_name_are_refused(cli: Cli, daemons: dict[str, FakeLibvirt]) -> None:
    result = cli("lint", "--connect", f"hv1={HV1}", "--connect", f"hv1={HV2}", "--all")
    assert result.exit_code == 2
    assert result.stderr == (
        f"famfs-xml: error: {HV1} and {HV2} are both host hv1: name each (NAME=URI) to read both\n"
    )


def test_the_same_uri_twice_is_read_once(cli: Cli, daemons: dict[str, FakeLibvirt]) -> None:
    report = _json(cli("lint", "-c", f"hv1={HV1}", "-c", f"hv1={HV1}", "--all", "--format", "json"))
    assert len(report["hosts"]) == 1 and report["summary"]["files"] == 3
    # one host: the domains are shown as before, without it
    assert report["findings"][0]["path"] == "libvirt:web3"


@pytest.mark.parametrize(
    ("text", "target"),
    [
        (
            "hv1=qemu+ssh://root@hv1.example/system",
            Target("hv1", "qemu+ssh://root@hv1.example/system"),
        ),
        (
            "qemu+ssh://root@hv2.example:2222/system",
            Target("hv2.example", "qemu+ssh://root@hv2.example:2222/system"),
        ),
        ("qemu+tls://HV3.example/system", Target("hv3.example", "qemu+tls://HV3.example/system")),
        (
            "qemu+unix:///system?socket=/run/b/libvirt-sock",
            Target(host_name("qemu:///system"), "qemu+unix:///system?socket=/run/b/libvirt-sock"),
        ),
        (
            "b=qemu+unix:///session?socket=/tmp/s=1",
            Target("b", "qemu+unix:///session?socket=/tmp/s=1"),
        ),
    ],
)
def test_a_target_is_named_by_the_operator_or_by_its_uri(text: str, target: Target) -> None:
    assert parse_target(text) == target


def test_a_local_uri_is_this_machine() -> None:
    import socket

    assert host_name("qemu:///system") == socket.gethostname()
    assert host_name("qemu+tcp://localhost/system") == socket.gethostname()


def test_an_inventory_line_must_be_a_uri() -> None:
    with pytest.raises(FleetError, match=r"hosts:3: 'rack 1' is no libvirt URI"):
        read_inventory("# hypervisors\nqemu:///system\nrack 1\n", "hosts")
