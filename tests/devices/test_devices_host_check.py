"""``host check``: FH001-FH008 on fake machines."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from devices_fake_machine import FakeMachine, GiB
from devices_fake_tools import Cli

from famfs_xml.core.findings import Finding
from famfs_xml.host.checks import RULES, check_host


def codes(findings: list[Finding]) -> list[str]:
    return [finding.code for finding in findings]


def only(findings: list[Finding], code: str) -> Finding:
    [finding] = [f for f in findings if f.code == code]
    return finding


def test_the_guide_host_is_clean(guide_host: FakeMachine, cli: Cli) -> None:
    assert check_host(guide_host.root) == []
    result = cli("host", "check", "--root", str(guide_host.root))
    assert result.exit_code == 0
    assert result.stdout == "No problems found.\n"


def test_memmap_beyond_ram(guide_host: FakeMachine) -> None:
    guide_host.set_cmdline("ro memmap=8G!40G memhp_default_state=offline")
    guide_host.set_grub('GRUB_CMDLINE_LINUX="memmap=8G!40G memhp_default_state=offline"\n')
    finding = only(check_host(guide_host.root), "FH002")
    assert finding.severity.label == "error"
    assert "0xa00000000-0xbffffffff" in finding.message
    assert finding.hint is not None
    assert "memmap=8G!33G" in finding.hint
    assert "grub2-mkconfig -o /boot/grub2/grub.cfg" in finding.hint


def test_memmap_in_the_pci_hole(guide_host: FakeMachine) -> None:
    guide_host.set_cmdline("memmap=2G!3G memhp_default_state=offline")
    guide_host.set_grub("")
    assert "FH002" in codes(check_host(guide_host.root))


def test_memmap_dollar_forms_and_lists(guide_host: FakeMachine) -> None:
    guide_host.set_cmdline("memmap=8G$8G,4G\\$64G memhp_default_state=offline")
    guide_host.set_grub("")
    [finding] = [f for f in check_host(guide_host.root) if f.code == "FH002"]
    assert "memmap=4G$64G" in finding.message


def test_memmap_from_iomem_when_no_firmware_map(machine: FakeMachine) -> None:
    machine.set_cmdline("memmap=8G!8G")
    iomem = (
        "00000000-00000fff : Reserved\n"
        "00001000-0009fbff : System RAM\n"
        "00100000-bfffffff : System RAM\n"
        "  01000000-01ffffff : Kernel code\n"
        "100000000-1ffffffff : System RAM\n"
        "200000000-3ffffffff : Persistent Memory (legacy)\n"
        "  200000000-3ffffffff : namespace0.0\n"
    )
    (machine.root / "proc/iomem").write_text(iomem)
    assert "FH002" not in codes(check_host(machine.root))
    machine.set_cmdline("memmap=8G!16G")
    assert "FH002" in codes(check_host(machine.root))


def test_iomem_without_privilege_is_not_judged(machine: FakeMachine) -> None:
    machine.set_cmdline("memmap=8G!400G")
    (machine.root / "proc/iomem").write_text("00000000-00000000 : System RAM\n")
    assert "FH002" not in codes(check_host(machine.root))


def test_memmap_unaligned(guide_host: FakeMachine) -> None:
    guide_host.set_cmdline("memmap=8G!0x200001000 memhp_default_state=offline")
    guide_host.set_grub("")
    assert "FH008" in codes(check_host(guide_host.root))


def test_efi_fake_mem_on_a_new_kernel(guide_host: FakeMachine) -> None:
    guide_host.set_kernel("6.11.0-1-amd64")
    guide_host.set_cmdline("efi_fake_mem=8G@8G:0x40000 memhp_default_state=offline")
    guide_host.set_grub(
        'GRUB_CMDLINE_LINUX="efi_fake_mem=8G@8G:0x40000 memhp_default_state=offline"'
    )
    finding = only(check_host(guide_host.root), "FH003")
    assert "6.11" in finding.message
    assert finding.hint == (
        "replace efi_fake_mem=8G@8G:0x40000 with memmap=8G%8G+0xefffffff in /etc/default/grub, "
        "run grub2-mkconfig -o /boot/grub2/grub.cfg, then reboot"
    )
    assert "memmap=nn%ss+0xefffffff makes the same soft-reserved range" in finding.message
    guide_host.set_grub('GRUB_CMDLINE_LINUX="memmap=8G!8G memhp_default_state=offline"')
    finding = only(check_host(guide_host.root), "FH003")
    assert finding.hint is not None
    assert finding.hint.startswith("/etc/default/grub no longer has efi_fake_mem=8G@8G:0x40000")
    guide_host.set_kernel("6.10.14")
    assert "FH003" not in codes(check_host(guide_host.root))


def test_efi_fake_mem_pending_in_grub_on_a_new_kernel(guide_host: FakeMachine) -> None:
    """A reboot would only start a kernel that ignores it: no FH007 "reboot" advice."""
    guide_host.set_kernel("6.14.5-300.fc42.x86_64")
    guide_host.set_cmdline("ro memhp_default_state=offline")
    guide_host.set_grub(
        'GRUB_CMDLINE_LINUX="efi_fake_mem=8G@8G:0x40000 memhp_default_state=offline"'
    )
    findings = check_host(guide_host.root)
    assert codes(findings) == ["FH003"]
    assert findings[0].path == "/etc/default/grub"
    assert findings[0].hint is not None and "memmap=8G%8G+0xefffffff" in findings[0].hint


def test_efi_fake_mem_and_a_newer_kernel_installed(guide_host: FakeMachine) -> None:
    """The running 6.10 honours efi_fake_mem; the 6.12 the next boot starts does not."""
    guide_host.set_kernel("6.10.14-200.fc40.x86_64")
    guide_host.install_kernel("6.10.14-200.fc40.x86_64")
    guide_host.install_kernel("6.12.9-100.fc40.x86_64")
    guide_host.set_cmdline("ro efi_fake_mem=8G@8G:0x40000 memhp_default_state=offline")
    guide_host.set_grub(
        'GRUB_CMDLINE_LINUX="efi_fake_mem=8G@8G:0x40000 memhp_default_state=offline"'
    )
    finding = only(check_host(guide_host.root), "FH003")
    assert "6.12.9-100.fc40.x86_64" in finding.message
    assert "next boot" in finding.message
    guide_host.set_cmdline("ro memhp_default_state=offline")  # pending: FH003, not FH007
    assert codes(check_host(guide_host.root)) == ["FH003"]
    (guide_host.root / "boot/vmlinuz-6.12.9-100.fc40.x86_64").unlink()
    assert codes(check_host(guide_host.root)) == ["FH007"]


def test_efi_fake_mem_without_efi(machine: FakeMachine) -> None:
    machine.set_kernel("6.6.0")
    machine.set_cmdline("efi_fake_mem=8G@8G:0x40000 memhp_default_state=offline")
    assert codes(check_host(machine.root)) == ["FH001"]


def test_auto_online_memory(guide_host: FakeMachine) -> None:
    guide_host.set_auto_online("online")
    finding = only(check_host(guide_host.root), "FH004")
    assert "'online'" in finding.message
    assert finding.hint is not None
    assert "echo offline > /sys/devices/system/memory/auto_online_blocks" in finding.hint


def test_auto_online_from_the_command_line(machine: FakeMachine) -> None:
    machine.add_dax("dax0.0")
    machine.set_cmdline("ro")
    assert codes(check_host(machine.root)) == ["FH004"]
    machine.set_cmdline("ro memhp_default_state=offline")
    assert codes(check_host(machine.root)) == []


def test_dax_modes(guide_host: FakeMachine) -> None:
    guide_host.add_dax("dax1.0", mode="system-ram")
    guide_host.add_dax("dax2.0", mode=None)
    guide_host.add_dax("dax3.0", mode="famfs")
    guide_host.add_mount("/dev/dax3.0", "/mnt/famfs", "fuse.famfs")  # famfs mode in use
    findings = check_host(guide_host.root)
    assert codes(findings) == ["FH005", "FH006"]
    assert findings[0].hint is not None
    assert findings[0].hint.startswith("famfs-xml device convert dax1.0 --mode devdax")
    assert "/dev/dax2.0" in findings[1].message


@pytest.mark.parametrize(
    ("os_id", "version", "like", "bls", "command"),
    [
        ("fedora", "42", "", True, "run grub2-mkconfig -o /boot/grub2/grub.cfg, then reboot"),
        ("rhel", "9.4", "fedora", True, 'grubby --update-kernel=ALL --args="memmap=8G!8G"'),
        ("ubuntu", "24.04", "debian", False, "run update-grub, then reboot"),
        ("debian", "12", "", False, "run update-grub, then reboot"),
    ],
)
def test_grub_change_not_yet_live(
    guide_host: FakeMachine, os_id: str, version: str, like: str, bls: bool, command: str
) -> None:
    guide_host.set_os_release(os_id, version, like)
    guide_host.set_cmdline("ro memhp_default_state=offline")
    guide_host.set_grub(
        'GRUB_CMDLINE_LINUX_DEFAULT="quiet memmap=8G\\\\\\$8G"\n'
        'GRUB_CMDLINE_LINUX="memmap=8G!8G memhp_default_state=offline"\n'
        + ("GRUB_ENABLE_BLSCFG=true\n" if bls else "")
    )
    pending = [f for f in check_host(guide_host.root) if f.code == "FH007"]
    assert [f.message.split(" sets ")[1].split(",")[0] for f in pending] == [
        "memmap=8G!8G",
        "memmap=8G$8G",
    ]
    assert pending[0].hint is not None and command in pending[0].hint


def test_grub_env_macro_is_expanded(guide_host: FakeMachine) -> None:
    guide_host.set_grub('GRUB_CMDLINE_LINUX="memmap=\\$memmap_val memhp_default_state=offline"\n')
    env = guide_host.root / "boot/grub2/grubenv"
    env.parent.mkdir(parents=True)
    env.write_text("# GRUB Environment Block\nmemmap_val=8G\\$8G\n")
    pending = only(check_host(guide_host.root), "FH007")
    assert "memmap=8G$8G" in pending.message


def test_grubby_replaces_the_argument(guide_host: FakeMachine) -> None:
    guide_host.set_os_release("rhel", "9.4", "fedora")
    guide_host.set_cmdline("ro memmap=8G!40G memhp_default_state=offline")
    guide_host.set_grub(
        'GRUB_CMDLINE_LINUX="memmap=8G!40G memhp_default_state=offline"\nGRUB_ENABLE_BLSCFG=true\n'
    )
    assert only(check_host(guide_host.root), "FH002").hint == (
        'grubby --update-kernel=ALL --remove-args="memmap=8G!40G" --args="memmap=8G!33G", '
        "then reboot"
    )


def test_regenerated_but_not_rebooted(guide_host: FakeMachine) -> None:
    guide_host.set_cmdline("ro memhp_default_state=offline")
    cfg = guide_host.root / "boot/grub2/grub.cfg"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("linux /vmlinuz ro rhgb quiet memmap=8G!8G memhp_default_state=offline\n")
    hint = only(check_host(guide_host.root), "FH007").hint
    assert hint is not None and hint.endswith("reboot to apply it")


def test_json_output(guide_host: FakeMachine, cli: Cli) -> None:
    guide_host.add_dax("dax1.0", mode="system-ram")
    result = cli("host", "check", "--json", "--root", str(guide_host.root))
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["version"] == 1
    [entry] = data["findings"]
    assert set(entry) == {"code", "name", "severity", "message", "hint"}
    assert (entry["code"], entry["name"], entry["severity"]) == (
        "FH005",
        "dax-system-ram",
        "error",
    )


def test_text_output(guide_host: FakeMachine, cli: Cli) -> None:
    guide_host.add_dax("dax1.0", mode=None)
    result = cli("host", "check", "--root", str(guide_host.root))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("FH006 [error] dax-unbound: /dev/dax1.0")
    assert lines[1].startswith("    hint: famfs-xml device convert dax1.0")
    assert lines[-1] == "Found 1 problem."


def test_every_rule_has_a_catalog_entry() -> None:
    rules_dir = Path(__file__).resolve().parents[2] / "rules"
    for code, (name, severity) in RULES.items():
        entry = tomllib.loads((rules_dir / f"{code}.toml").read_text())
        assert (entry["code"], entry["name"], entry["severity"]) == (code, name, severity.label)
        assert entry["fix"] == "none" and entry["tags"] == ["host"]
        assert "example" not in entry


def test_a_ram_sized_for_the_guide(guide_host: FakeMachine) -> None:
    # 40 GiB of RAM; the guide's memmap=8G!8G fits and is 2 MiB aligned.
    assert 8 * GiB + 8 * GiB <= 40 * GiB
    assert check_host(guide_host.root) == []


def test_fh002_hint_fits_a_small_machine(machine: FakeMachine) -> None:
    """A 256 MiB guest booted with ``memmap=64M!2G``: RAM ends at 0xffdffff."""
    machine.set_firmware_memmap(
        [
            (0x0, 0x9FBFF, "System RAM"),
            (0x9FC00, 0x9FFFF, "Reserved"),
            (0xF0000, 0xFFFFF, "Reserved"),
            (0x100000, 0xFFDFFFF, "System RAM"),
            (0xFFE0000, 0xFFFFFFF, "Reserved"),
        ]
    )
    machine.set_cmdline("console=ttyS0 memmap=64M!2G")
    [finding] = [f for f in check_host(machine.root) if f.code == "FH002"]
    assert finding.hint is not None
    assert "memmap=64M!128M" in finding.hint
    assert "no System RAM range that large" not in finding.hint


@pytest.mark.parametrize("cmdline", ["memmap=64M!2G memmap=32M!160M", "memmap=32M!160M,64M!2G"])
def test_fh002_hint_leaves_the_other_memmap_ranges_alone(
    machine: FakeMachine, cmdline: str
) -> None:
    """The same guest with a second range at 160 MiB, which /sys/firmware/memmap still calls
    RAM. Booted with the old hint, ``memmap=64M!128M memmap=32M!160M``, the kernel gave the
    overlap to the second range: the first device had 32 MiB, not 64 (source: the guest)."""
    machine.set_firmware_memmap([(0x0, 0x9FBFF, "System RAM"), (0x100000, 0xFFDFFFF, "System RAM")])
    machine.set_cmdline(f"console=ttyS0 {cmdline}")
    [finding] = [f for f in check_host(machine.root) if f.code == "FH002"]
    assert finding.hint is not None
    assert "use memmap=64M!96M instead" in finding.hint  # below 160 MiB: [96, 160) MiB


def test_fh002_hint_on_the_guide_host_leaves_the_other_memmap_ranges_alone(
    guide_host: FakeMachine,
) -> None:
    guide_host.set_cmdline("memmap=8G!32G memmap=8G!40G memhp_default_state=offline")
    guide_host.set_grub('GRUB_CMDLINE_LINUX="memmap=8G!32G memmap=8G!40G"\n')
    hint = only(check_host(guide_host.root), "FH002").hint
    assert hint is not None
    assert "use memmap=8G!24G instead" in hint  # [32, 40) GiB is the first device's


def test_fh002_hint_when_nothing_fits(machine: FakeMachine) -> None:
    machine.set_firmware_memmap([(0x100000, 0xFFDFFFF, "System RAM")])
    machine.set_cmdline("memmap=512M!2G")
    [finding] = [f for f in check_host(machine.root) if f.code == "FH002"]
    assert finding.hint == "this machine has no System RAM range that large: use a smaller size"


# --- the kernels famfs runs on: Linux 7.x and its memmap= forms -----------------------------

K72 = "7.2.13+deb14-amd64"


def test_fsdev_dax_missing_on_linux_7(tmp_path: Path) -> None:
    """FH009: fires on a 7.x kernel with no fsdev_dax loaded, built in or on disk."""
    machine = FakeMachine(tmp_path / "m", fsdev=False)
    machine.set_kernel(K72)
    finding = only(check_host(machine.root), "FH009")
    assert f"Linux {K72} has no fsdev_dax driver" in finding.message
    assert "famfs cannot mount here" in finding.message
    machine.install_module(K72)  # on disk: modprobe, daxctl and famfs load it
    assert "FH009" not in codes(check_host(machine.root))
    loaded = FakeMachine(tmp_path / "loaded", fsdev=True)
    loaded.set_kernel(K72)
    assert "FH009" not in codes(check_host(loaded.root))
    older = FakeMachine(tmp_path / "older", fsdev=False)
    older.set_kernel("6.14.5-300.fc42.x86_64")  # famfs needs no famfs mode before 7.0
    assert "FH009" not in codes(check_host(older.root))


def test_memmap_dollar_makes_no_device(guide_host: FakeMachine) -> None:
    """FH010: Linux 6.1 and 7.2 guests booted with memmap=32M$144M had a Reserved range
    and no device."""
    guide_host.set_cmdline("ro memmap=8G$8G memhp_default_state=offline")
    guide_host.set_grub('GRUB_CMDLINE_LINUX="memmap=8G\\$8G memhp_default_state=offline"\n')
    finding = only(check_host(guide_host.root), "FH010")
    assert "memmap=8G$8G (on the running command line) only reserves" in finding.message
    assert "makes no dax or pmem device" in finding.message
    assert finding.hint is not None
    assert "memmap=8G%8G+0xefffffff" in finding.hint
    assert "grub2-mkconfig -o /boot/grub2/grub.cfg" in finding.hint
    guide_host.set_cmdline("ro memmap=8G!8G memhp_default_state=offline")
    guide_host.set_grub('GRUB_CMDLINE_LINUX="memmap=8G!8G memhp_default_state=offline"\n')
    assert "FH010" not in codes(check_host(guide_host.root))


def test_memmap_dollar_through_the_guides_grub_macro(guide_host: FakeMachine) -> None:
    """The newest guide: grub2-editenv … set memmap_val='8G\\$8G', memmap=\\$memmap_val."""
    guide_host.set_cmdline("ro memhp_default_state=offline")
    guide_host.set_grub('GRUB_CMDLINE_LINUX="memmap=\\$memmap_val memhp_default_state=offline"\n')
    (guide_host.root / "boot/grub2").mkdir(parents=True)
    (guide_host.root / "boot/grub2/grubenv").write_text(
        "# GRUB Environment Block\nmemmap_val=8G\\$8G\n" + "#" * 900
    )
    findings = check_host(guide_host.root)
    finding = only(findings, "FH010")
    assert "in /etc/default/grub, set by $memmap_val of /boot/grub2/grubenv" in finding.message
    assert finding.hint == (
        "grub2-editenv /boot/grub2/grubenv set memmap_val='8G%8G+0xefffffff', then reboot"
    )
    assert "FH007" in codes(findings)  # and it is not on the running command line yet


def test_soft_reserved_memmap_is_judged_like_the_others(guide_host: FakeMachine) -> None:
    """memmap=nn%ss+0xefffffff: outside RAM (FH002, the hint keeps the form), unaligned
    (FH008), and memory the kernel may online (FH004)."""
    guide_host.set_grub('GRUB_CMDLINE_LINUX="memmap=8G%40G+0xefffffff memhp_default_state=offline"')
    guide_host.set_cmdline("memmap=8G%40G+0xefffffff memhp_default_state=offline")
    hint = only(check_host(guide_host.root), "FH002").hint
    assert hint is not None and "memmap=8G%33G+0xefffffff" in hint
    guide_host.set_grub("")
    guide_host.set_cmdline("memmap=31M%161M+0xefffffff memhp_default_state=offline")
    assert "FH008" in codes(check_host(guide_host.root))
    guide_host.set_cmdline("memmap=8G%8G+0xefffffff")
    guide_host.set_auto_online("online")
    (guide_host.sys / "bus/dax/devices/dax0.0").unlink()
    assert codes(check_host(guide_host.root)) == ["FH004"]
    guide_host.set_cmdline("memmap=8G%8G-1+2")  # RAM made reserved: carves, not soft
    assert codes(check_host(guide_host.root)) == ["FH010"]


def test_a_device_left_in_famfs_mode(tmp_path: Path) -> None:
    """FH011: famfs mode, nothing mounted from the device."""
    machine = FakeMachine(tmp_path / "m", fsdev=True)
    machine.set_kernel(K72)
    machine.add_dax("dax0.0", mode="famfs")
    finding = only(check_host(machine.root), "FH011")
    assert "nothing can map it (mmap fails with ENODEV)" in finding.message
    assert finding.hint is not None
    assert finding.hint.startswith("famfs-xml device convert dax0.0 --mode devdax --yes")
    machine.add_mount("/dev/dax0.0", "/mnt/famfs", "fuse.famfs")
    assert "FH011" not in codes(check_host(machine.root))


def test_efi_fake_mem_without_efi_names_the_memmap_that_does_the_same(
    guide_host: FakeMachine,
) -> None:
    (guide_host.sys / "firmware/efi/efivars").rmdir()
    (guide_host.sys / "firmware/efi").rmdir()
    guide_host.set_kernel("6.6.1")
    guide_host.set_cmdline("efi_fake_mem=8G@9G:0x40000 memhp_default_state=offline")
    guide_host.set_grub('GRUB_CMDLINE_LINUX="efi_fake_mem=8G@9G:0x40000"\n')
    finding = only(check_host(guide_host.root), "FH001")
    assert "famfs needs no EFI" in finding.message
    assert finding.hint is not None and "with memmap=8G%9G+0xefffffff" in finding.hint
