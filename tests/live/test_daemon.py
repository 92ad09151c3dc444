"""--connect and the start-time gate against a real libvirtd (qemu:///system, TCG guests).

Each test shows one claim on the daemon itself: a fix lands in libvirt's definition and in
its file and stays there; a refused define or a read-back that differs leaves libvirt's copy
as it was; attach makes two domains that start; the hook refuses a private-access start
with its reason in ``virsh start``'s error; secrets survive a fix.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from famfs_xml.live.connection import connect
from famfs_xml.live.domains import ChangeFailed, LiveDomain, redefine
from tests.conftest import FIXTURES, Cli
from tests.live.libvirt_daemon import HOOKS, PREFIX, SAVED, URI, Daemon, virsh

pytestmark = pytest.mark.usefixtures("daemon")

MiB = 1024 * 1024
SECRET = "s3cr3t"  # VNC allows 8 characters

_KVM = re.compile(r"(<domain\b[^>]*?\btype=)(['\"])kvm\2")


def tcg(xml: str, name: str) -> str:
    """A fixture as a TCG domain named ``name``, with a uuid of libvirt's choosing."""
    xml = _KVM.sub(r"\1\2qemu\2", xml, count=1)
    xml = xml.replace("mode='host-passthrough'", "mode='maximum'")
    xml = re.sub(r"\s*<uuid>[^<]*</uuid>", "", xml, count=1)
    return re.sub(r"<name>[^<]*</name>", f"<name>{name}</name>", xml, count=1)


def small_domain(name: str) -> str:
    """A guest that starts under TCG in a few hundred milliseconds (no disk: it idles in
    the firmware), with a VNC password to lose."""
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>128</memory>
  <currentMemory unit='MiB'>128</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
  </os>
  <features>
    <acpi/>
  </features>
  <cpu mode='maximum'/>
  <devices>
    <graphics type='vnc' port='-1' autoport='yes' passwd='{SECRET}'/>
  </devices>
</domain>
"""


def define(xml: str, tmp_path: Path) -> None:
    path = tmp_path / "define.xml"
    path.write_text(xml, encoding="utf-8")
    virsh("define", str(path))


def inactive(name: str) -> str:
    return virsh("dumpxml", "--inactive", "--security-info", name).stdout


def codes_in(cli: Cli, xml: str | bytes, code: str) -> bool:
    """Whether ``famfs-xml lint --select CODE`` finds CODE in ``xml``."""
    data = xml.encode() if isinstance(xml, str) else xml
    result = cli("lint", "--isolated", "--select", code, "-", stdin=data)
    assert result.exit_code in (0, 1), result.stderr
    return f" {code} " in result.stdout


@pytest.fixture
def backing(tmp_path: Path) -> str:
    """A 64 MiB backing file: the scaled-down shared device."""
    path = tmp_path / "famfs-shared.img"
    with open(path, "wb") as sparse:
        sparse.truncate(64 * MiB)
    return str(path)


@pytest.fixture
def with_nvdimm(cli: Cli, backing: str) -> Iterator[object]:
    """``small_domain`` with the shared device attached (by famfs-xml on the file), and
    ``access`` as asked."""

    def make(name: str, access: str = "shared") -> str:
        result = cli(
            "attach", "-", "--source", backing, "--size", "64MiB", stdin=small_domain(name).encode()
        )
        assert result.exit_code == 0, result.stderr
        return result.stdout.replace("access='shared'", f"access='{access}'")

    yield make


@pytest.mark.parametrize(
    "fixture",
    [
        "FX301-nvdimm-private.xml",
        "FX302-nvdimm-no-alignsize.xml",
        "FX104-memory-not-cells-plus-nvdimm.xml",
    ],
)
def test_fix_connect_lands_in_libvirt_and_its_file_and_stays(
    cli: Cli, daemon: Daemon, fixture: str
) -> None:
    code = fixture[:5]
    name = f"{PREFIX}{code}"
    # The operator's situation: a hand-edited file in libvirt's directory, taken in by a
    # reload (a define would already normalise FX104's <memory>).
    saved = SAVED / f"{name}.xml"
    saved.write_text(tcg((FIXTURES / "defects" / fixture).read_text(), name), encoding="utf-8")
    daemon.reload()
    deadline = time.monotonic() + 30
    while virsh("domstate", name, check=False).returncode != 0:
        assert time.monotonic() < deadline, f"libvirtd did not load {saved}"
        time.sleep(0.1)
    assert codes_in(cli, inactive(name), code)

    result = cli("fix", "--connect", URI, name)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"libvirt:{name}: fixed ({code}) in libvirt's definition;")

    def fixed_everywhere() -> None:
        assert not codes_in(cli, inactive(name), code)
        assert not codes_in(cli, saved.read_bytes(), code)

    fixed_everywhere()
    virsh("desc", "--config", name, "a save that used to write the old copy back")
    fixed_everywhere()
    daemon.restart()
    fixed_everywhere()
    assert "a save that used to write" in inactive(name)


def test_a_define_libvirt_refuses_leaves_the_old_definition(
    tmp_path: Path, with_nvdimm: object
) -> None:
    name = f"{PREFIX}refused"
    define(with_nvdimm(name), tmp_path)  # type: ignore[operator]
    before = inactive(name)
    hypervisor = connect(URI)
    try:
        domain = LiveDomain(name, hypervisor.definition(name), running=False)
        assert domain.definition.decode() == before
        beyond_slots = before.replace(
            "<address type='dimm' slot='0'/>", "<address type='dimm' slot='9'/>"
        )
        with pytest.raises(ChangeFailed) as refused:
            redefine(hypervisor, domain, beyond_slots.encode())
        assert (
            "libvirt refused the new definition (unsupported configuration: memory device "
            "slot '9' exceeds slots count" in str(refused.value)
        )
        assert str(refused.value).endswith("its definition is unchanged")
        assert inactive(name) == before
    finally:
        hypervisor.close()


def test_a_read_back_that_differs_restores_the_old_definition(
    tmp_path: Path, with_nvdimm: object
) -> None:
    name = f"{PREFIX}readback"
    define(with_nvdimm(name), tmp_path)  # type: ignore[operator]
    before = inactive(name)
    # libvirt recomputes <memory> as NUMA cells + devices: a wrong total is accepted and
    # silently replaced, which the read-back must notice; the access change it keeps must
    # then be taken back
    total = re.search(r"<memory unit='KiB'>(\d+)</memory>", before)
    assert total is not None and "access='shared'" in before
    wrong = before.replace(
        total.group(0), f"<memory unit='KiB'>{int(total.group(1)) - 2048}</memory>"
    ).replace("access='shared'", "access='private'")
    hypervisor = connect(URI)
    try:
        domain = LiveDomain(name, hypervisor.definition(name), running=False)
        with pytest.raises(ChangeFailed) as differs:
            redefine(hypervisor, domain, wrong.encode())
        message = str(differs.value)
        assert (
            "libvirt did not keep what was written (memory 190 MiB written, 192 MiB kept)"
            in message
        )
        assert message.endswith("its previous definition was restored")
        assert inactive(name) == before
    finally:
        hypervisor.close()


def _qemu_command_line(name: str) -> str:
    pid = int(Path(f"/run/libvirt/qemu/{name}.pid").read_text().strip())
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_attach_connect_on_two_domains_then_both_start(
    cli: Cli, tmp_path: Path, backing: str
) -> None:
    names = [f"{PREFIX}attach-a", f"{PREFIX}attach-b"]
    for name in names:
        define(small_domain(name), tmp_path)
    result = cli("attach", "--connect", URI, *names, "--source", backing, "--size", "64MiB")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert len(result.stdout.splitlines()) == 2
    for name in names:
        assert backing in inactive(name)
        assert f"passwd='{SECRET}'" in inactive(name)
    for name in names:
        started = virsh("start", name, check=False)
        assert started.returncode == 0, started.stderr
    for name in names:
        assert virsh("domstate", name).stdout.strip() == "running"
        argv = _qemu_command_line(name)
        assert '"share":true' in argv and f'"mem-path":"{backing}"' in argv
        virsh("destroy", name)


@pytest.fixture
def gate(daemon: Daemon, tmp_path: Path) -> Iterator[Path]:
    """famfs-xml installed as a qemu hook (this checkout, by this interpreter), active once
    libvirtd has reloaded; the log file records every call libvirt made."""
    log = tmp_path / "hook-calls.log"
    created = not HOOKS.exists()
    HOOKS.mkdir(parents=True, exist_ok=True)
    script = HOOKS / f"{PREFIX}famfs-xml"
    script.write_text(
        f'#!/bin/sh\necho "$@" >> {log}\nexec {sys.executable} -m famfs_xml libvirt-hook "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    try:
        daemon.reload()
        _wait_for_the_hook(log, tmp_path)
        yield log
    finally:
        script.unlink()
        if created:
            HOOKS.rmdir()
        daemon.reload()


def _wait_for_the_hook(log: Path, tmp_path: Path) -> None:
    """Start a domain without memory devices until libvirt calls the hook for it (the
    reload is asynchronous); the gate must never stop such a domain."""
    probe = f"{PREFIX}probe"
    define(small_domain(probe), tmp_path)
    deadline = time.monotonic() + 60
    while True:
        started = virsh("start", probe, check=False)
        assert started.returncode == 0, started.stderr
        virsh("destroy", probe)
        if log.exists() and f"{probe} prepare begin -" in log.read_text():
            break
        assert time.monotonic() < deadline, "libvirtd did not pick up the hook"
        time.sleep(0.5)
    virsh("undefine", probe)


def test_the_gate_refuses_a_private_start_beside_a_sharer_and_lets_the_fixed_one_start(
    cli: Cli, tmp_path: Path, with_nvdimm: object, gate: Path
) -> None:
    name, sharer = f"{PREFIX}private", f"{PREFIX}sharer"
    define(with_nvdimm(name, access="private"), tmp_path)  # type: ignore[operator]
    # alone on its backing, a private nvdimm is the domain's own business: it starts
    alone = virsh("start", name, check=False)
    assert alone.returncode == 0, alone.stderr
    virsh("destroy", name)
    # another domain libvirt holds uses the same backing: the private start is refused
    define(with_nvdimm(sharer, access="shared"), tmp_path)  # type: ignore[operator]
    refused = virsh("start", name, check=False)
    assert refused.returncode != 0
    assert "Hook script execution failed" in refused.stderr
    assert f"famfs-xml refuses to start {name}: FX301 nvdimm has access='private'" in refused.stderr
    assert virsh("domstate", name).stdout.strip() == "shut off"

    fixed = cli("fix", "--connect", URI, name)
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    started = virsh("start", name, check=False)
    assert started.returncode == 0, started.stderr
    assert '"share":true' in _qemu_command_line(name)
    calls = gate.read_text()
    assert f"{name} prepare begin -" in calls and f"{name} started begin -" in calls
    virsh("destroy", name)
    virsh("undefine", sharer)


def test_a_fix_of_a_running_domain_applies_at_next_boot_and_keeps_secrets(
    cli: Cli, tmp_path: Path, with_nvdimm: object
) -> None:
    name = f"{PREFIX}running"
    define(with_nvdimm(name, access="private"), tmp_path)  # type: ignore[operator]
    virsh("start", name)
    assert '"share":false' in _qemu_command_line(name)
    result = cli("fix", "--connect", URI, name)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.startswith(f"libvirt:{name}: fixed (FX301) in libvirt's definition;")
    assert "running: the change applies at its next boot" in result.stdout
    assert "access='shared'" in inactive(name)
    assert '"share":false' in _qemu_command_line(name)  # the running guest is untouched
    assert f"passwd='{SECRET}'" in inactive(name)
    assert f"passwd='{SECRET}'" in (SAVED / f"{name}.xml").read_text()
    virsh("destroy", name)
    virsh("start", name)
    assert '"share":true' in _qemu_command_line(name)
    virsh("destroy", name)
    virsh("start", name)
    assert '"pmem":true' in _qemu_command_line(name)
    virsh("destroy", name)
