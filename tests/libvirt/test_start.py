"""Guests that share one backing file through a virtual NVDIMM really start.

A scaled-down copy of the guide's VM: a 64 MiB nvdimm on a 64 MiB regular file, a 128 MiB NUMA
cell, TCG. No disk: the guest only has to get as far as running its firmware.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from libvirt_judge import LibvirtJudge, recorded

MiB = 1024 * 1024

FIRMWARE = {
    "bios": "  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n  </os>\n",
    # libvirt would pick the Secure Boot build, which needs SMM: TCG lacks it here.
    "efi": (
        "  <os firmware='efi'>\n"
        "    <type arch='x86_64' machine='q35'>hvm</type>\n"
        "    <firmware>\n"
        "      <feature enabled='no' name='secure-boot'/>\n"
        "    </firmware>\n"
        "  </os>\n"
    ),
}


def small_guest(name: str, backing: Path, *, target_mib: int = 64, firmware: str = "bios") -> str:
    cell_mib = 128
    total = cell_mib + target_mib
    return f"""<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name>
  <maxMemory slots='2' unit='MiB'>{total}</maxMemory>
  <memory unit='MiB'>{total}</memory>
  <currentMemory unit='MiB'>{total}</currentMemory>
  <vcpu placement='static'>1</vcpu>
{FIRMWARE[firmware]}  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>qemu64</model>
    <numa>
      <cell id='0' cpus='0' memory='{cell_mib}' unit='MiB'/>
    </numa>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <memory model='nvdimm' access='shared'>
      <source>
        <path>{backing}</path>
        <alignsize unit='MiB'>2</alignsize>
        <pmem/>
      </source>
      <target>
        <size unit='MiB'>{target_mib}</size>
        <node>0</node>
        <label>
          <size unit='KiB'>128</size>
        </label>
      </target>
      <address type='dimm' slot='0'/>
    </memory>
  </devices>
</domain>
"""


@pytest.fixture
def backing(tmp_path: Path) -> Path:
    path = tmp_path / "famfs-backing"
    with path.open("wb") as handle:
        handle.truncate(64 * MiB)
    return path


@pytest.mark.parametrize(("firmware", "guests"), [("bios", 2), ("efi", 1)])
def test_guests_share_one_backing_file(
    libvirt_judge: LibvirtJudge, backing: Path, firmware: str, guests: int
) -> None:
    """Each guest starts (BIOS: two at once on the same file) and is destroyed again."""
    names = [f"famfs-start-{firmware}-{n}" for n in range(1, guests + 1)]
    try:
        for name in names:
            verdict = libvirt_judge.start(small_guest(name, backing, firmware=firmware))
            assert verdict.ok, verdict.message + "\n" + libvirt_judge.qemu_log(name)
        for name in names:
            assert libvirt_judge.domstate(name).startswith("running")
            # <pmem/> on a regular file: what FX303 says QEMU 7.2 and 11.1 warn
            warning = "Using non DAX backing file with 'pmem=on' option is deprecated"
            assert warning in libvirt_judge.qemu_log(name)
    finally:
        for name in names:
            libvirt_judge.destroy(name)
            libvirt_judge.undefine(name)


def test_target_size_other_than_the_file_does_not_start(
    libvirt_judge: LibvirtJudge, backing: Path
) -> None:
    """libvirt defines it; QEMU refuses to start (what FX305 prevents)."""
    name = "famfs-start-mismatch"
    xml = small_guest(name, backing, target_mib=128)
    try:
        assert libvirt_judge.define(xml).ok
        verdict = libvirt_judge.start(xml)
        assert not verdict.ok
        refusal = {
            (7, 2): "backing store size 0x4000000 does not match 'size' option 0x8000000",
            (11, 1): "backing store size 0x4000000 is too small for 'size' option 0x8000000",
        }
        assert recorded(refusal, libvirt_judge.qemu_version) in verdict.message
    finally:
        libvirt_judge.destroy(name)
        libvirt_judge.undefine(name)


def test_overlapping_nvdimm_addresses_do_not_start(
    libvirt_judge: LibvirtJudge, backing: Path, tmp_path: Path
) -> None:
    """libvirt 9.0 defines it and QEMU refuses to start; 12.8 refuses the define
    (what FX311 prevents, and words by the target release)."""
    second = tmp_path / "famfs-backing-2"
    with second.open("wb") as handle:
        handle.truncate(64 * MiB)
    xml = small_guest("famfs-start-overlap", backing)
    stanza = xml[xml.index("    <memory model='nvdimm'") : xml.index("  </devices>")]
    xml = xml.replace(
        "  </devices>",
        stanza.replace(str(backing), str(second)).replace("slot='0'", "slot='1'") + "  </devices>",
    )
    for old, new in (
        ("<maxMemory slots='2' unit='MiB'>192<", "<maxMemory slots='2' unit='MiB'>256<"),
        ("<memory unit='MiB'>192<", "<memory unit='MiB'>256<"),
        ("<currentMemory unit='MiB'>192<", "<currentMemory unit='MiB'>256<"),
        ("slot='0'/>", "slot='0' base='0x100000000'/>"),
        ("slot='1'/>", "slot='1' base='0x102000000'/>"),  # inside the first 64 MiB
    ):
        assert old in xml
        xml = xml.replace(old, new)
    refusal = {
        (9, 0): ("start", "address range conflicts with memory device id='nvdimm0'"),
        (12, 8): ("define", "overlaps with other memory device"),
    }
    step, message = recorded(refusal, libvirt_judge.libvirt_version)
    try:
        define = libvirt_judge.define(xml)
        assert define.ok is (step == "start"), define.message
        verdict = libvirt_judge.start(xml) if define.ok else define
        assert not verdict.ok
        assert message in verdict.message
    finally:
        libvirt_judge.destroy("famfs-start-overlap")
        libvirt_judge.undefine("famfs-start-overlap")
