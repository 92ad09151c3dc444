"""The judge itself: its virsh session, its rewrites and its verdicts."""

from __future__ import annotations

import pytest
from fixture_data import FIXTURES
from libvirt_judge import LibvirtJudge, ShellExited, Verdict, domain_name

GUIDE = (FIXTURES / "guide" / "f39-dev2.xml").read_bytes()


def test_session_output_is_exactly_the_command_output(libvirt_judge: LibvirtJudge) -> None:
    result = libvirt_judge.virsh("uri")
    assert result.returncode == 0
    assert result.stdout == libvirt_judge.uri + "\n"
    assert result.stderr == ""


def test_session_reports_errors_and_carries_on(libvirt_judge: LibvirtJudge) -> None:
    failed = libvirt_judge.virsh("dominfo", "no-such-domain")
    assert failed.returncode == 1
    assert "no-such-domain" in failed.stderr
    assert libvirt_judge.virsh("uri").stdout == libvirt_judge.uri + "\n"


def test_a_killed_session_says_how_it_ended(libvirt_judge: LibvirtJudge) -> None:
    shell = libvirt_judge._live_shell()
    shell._proc.kill()
    shell._proc.wait()
    with pytest.raises(ShellExited, match=r"virsh exited \(signal 9\) during: uri"):
        shell.run(["uri"])
    assert libvirt_judge.virsh("uri").stdout == libvirt_judge.uri + "\n"  # a new session


def test_a_session_that_dies_mid_command_is_replaced_once(libvirt_judge: LibvirtJudge) -> None:
    assert libvirt_judge.define(GUIDE).ok
    first = libvirt_judge._live_shell()
    # `quit` ends virsh mid-command, in the retry too: the second death is an error verdict.
    result = libvirt_judge.virsh("quit")
    assert result.returncode == 1
    assert "virsh exited (status 0) during: quit" in result.stderr
    assert libvirt_judge._live_shell() is not first
    # state is on disk: the successor still knows the domain
    assert "f39-dev2" in libvirt_judge.virsh("list", "--all", "--name").stdout


def test_long_output_arrives_whole(libvirt_judge: LibvirtJudge) -> None:
    assert libvirt_judge.define(GUIDE).ok
    text = libvirt_judge.dumpxml_inactive("f39-dev2")
    assert text.startswith("<domain type=")
    assert text.rstrip().endswith("</domain>")
    assert len(libvirt_judge.virsh("capabilities").stdout) > 2000


def test_one_shot_virsh_gives_the_same_verdicts(libvirt_judge: LibvirtJudge) -> None:
    libvirt_judge.release()  # the root is locked by one process at a time
    one_shot = LibvirtJudge(root=libvirt_judge.root, persistent=False)
    broken = GUIDE.replace(b"<size unit='MiB'>16</size>", b"<size unit='KiB'>64</size>")
    try:
        assert one_shot.to_native(GUIDE).ok
        expected = Verdict(False, "XML error: nvdimm label must be at least 128KiB")
        assert one_shot.to_native(broken) == expected
        assert libvirt_judge.to_native(broken) == expected
    finally:
        one_shot.close()


def test_define_replaces_an_earlier_definition(libvirt_judge: LibvirtJudge) -> None:
    assert libvirt_judge.define(GUIDE).ok
    retitled = GUIDE.replace(b"<name>f39-dev2</name>", b"<name>f39-dev2</name>\n  <title>t</title>")
    assert libvirt_judge.define(retitled).ok
    assert "<title>t</title>" in libvirt_judge.dumpxml_inactive("f39-dev2")
    no_uuid = GUIDE.replace(b"<uuid>6c1b7f3e-2d4a-4c8e-9b0f-5a7d3e2c1f90</uuid>", b"")
    assert libvirt_judge.define(no_uuid).ok  # a new UUID: the old domain is undefined first
    assert "f39-dev2" in libvirt_judge.defined()
    assert libvirt_judge.undefine("f39-dev2").ok
    assert "f39-dev2" not in libvirt_judge.defined()


def test_tcg_rewrite(libvirt_judge: LibvirtJudge) -> None:
    data = libvirt_judge.prepare(GUIDE, tcg=True)
    assert data.startswith(b"<domain type='qemu' xmlns:qemu=")
    assert b"<cpu mode='maximum' check='none' migratable='on'>" in data
    assert data.count(b"host-passthrough") == 0
    assert libvirt_judge.prepare(b'<domain type="kvm"><name>x</name></domain>', tcg=True) == (
        b'<domain type="qemu"><name>x</name></domain>'
    )
    plain = (FIXTURES / "libvirt-style" / "plain-debian12.xml").read_bytes()
    assert libvirt_judge.prepare(plain, tcg=True).count(b"host-model") == 1


def test_domain_name_without_parsing() -> None:
    assert domain_name(GUIDE) == "f39-dev2"
    assert domain_name("<domain><name> spaced </name><broken") == "spaced"
    assert domain_name(b"<domain/>") is None
