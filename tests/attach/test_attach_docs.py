"""docs/attach.md shows what the command really prints."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "attach.md"

F39_DEV1 = """\
<domain type='kvm'>
  <name>f39-dev1</name>
  <memory unit='GiB'>32</memory>
  <currentMemory unit='GiB'>32</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os firmware='efi'>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='host-passthrough' check='none' migratable='on'/>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/f39-dev1.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>
"""


def test_the_documented_diff_is_the_real_one(cli: Cli, tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    shown = text[text.index("```diff\n") + len("```diff\n") :]
    shown = shown[: shown.index("```")]
    (tmp_path / "f39-dev1.xml").write_text(F39_DEV1)
    result = cli(
        "attach", "f39-dev1.xml", "--source", "/dev/dax1.0", "--size", "8G", "--diff", cwd=tmp_path
    )
    assert result.exit_code == 1
    real = result.stdout.split("\n", 3)[3]  # without the ---/+++ and first @@ lines
    assert shown == real


def test_the_documented_next_steps_are_the_real_ones(cli: Cli, tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("```console\nf39-dev1.xml: attached") + len("```console\n")
    shown = text[start : text.index("```", start)]
    for name in ("f39-dev1", "f39-dev2"):
        (tmp_path / f"{name}.xml").write_text(F39_DEV1.replace("f39-dev1", name))
    result = cli(
        "attach", "f39-dev1.xml", "f39-dev2.xml", "--source", "/dev/dax1.0", "--size", "8G",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == shown
