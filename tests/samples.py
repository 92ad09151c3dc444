"""Small domains used by several test modules (the bundled fixtures are bigger)."""

from __future__ import annotations

GUIDE_VM = """\
<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>f39-dev2</name>
  <maxMemory slots='2' unit='GiB'>40</maxMemory>
  <memory unit='GiB'>40</memory>
  <currentMemory unit='GiB'>40</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os firmware='efi'>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='host-passthrough' check='none' migratable='on'>
    <numa>
      <cell id='0' cpus='0-1' memory='32' unit='GiB'/>
    </numa>
  </cpu>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <!-- the shared famfs device -->
    <memory model='nvdimm' access='shared'>
      <source>
        <path>/dev/dax1.0</path>
        <alignsize unit='MiB'>2</alignsize>
        <pmem/>
      </source>
      <target>
        <size unit='GiB'>8</size>
        <node>0</node>
        <label>
          <size unit='MiB'>16</size>
        </label>
      </target>
      <address type='dimm' slot='1'/>
    </memory>
  </devices>
</domain>
"""


def changed_lines(before: str | bytes, after: str | bytes) -> int:
    """How many lines differ (counting both removed and added lines once per pair)."""
    import difflib

    old = before.decode() if isinstance(before, bytes) else before
    new = after.decode() if isinstance(after, bytes) else after
    diff = difflib.ndiff(old.splitlines(), new.splitlines())
    removed = sum(1 for line in diff if line.startswith("- "))
    diff = difflib.ndiff(old.splitlines(), new.splitlines())
    added = sum(1 for line in diff if line.startswith("+ "))
    return max(removed, added)
