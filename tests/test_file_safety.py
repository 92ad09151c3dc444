"""Writing files that other programs own: symlinks, extended attributes, concurrent writers,
and libvirt's saved definitions."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from famfs_xml import attach as attach_module
from famfs_xml.core import fileio
from famfs_xml.lint import run as run_module
from tests.conftest import FIXTURES, Cli

PRIVATE = FIXTURES / "defects" / "FX301-nvdimm-private.xml"  # libvirt-written, one safe fix
GUIDE = FIXTURES / "guide" / "f39-dev2.xml"  # hand-written, clean


def _without_header(data: bytes) -> bytes:
    """The fixture without libvirt's AUTO-GENERATED comment: a file in a user's repository."""
    return data[data.index(b"<domain") :]


@pytest.fixture
def private_vm(tmp_path: Path) -> Path:
    target = tmp_path / "vm.xml"
    target.write_bytes(_without_header(PRIVATE.read_bytes()))
    return target


def test_fix_through_a_symlink_writes_the_file_it_names(cli: Cli, tmp_path: Path) -> None:
    # libvirt's autostart/NAME.xml is a relative link to ../NAME.xml
    real = tmp_path / "vm.xml"
    real.write_bytes(_without_header(PRIVATE.read_bytes()))
    (tmp_path / "autostart").mkdir()
    link = tmp_path / "autostart" / "vm.xml"
    link.symlink_to("../vm.xml")
    result = cli("fix", str(link))
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == "../vm.xml"
    assert b"access='shared'" in real.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["autostart", "vm.xml"]
    assert [p.name for p in (tmp_path / "autostart").iterdir()] == ["vm.xml"]


def test_attach_through_a_symlink_writes_the_file_it_names(cli: Cli, tmp_path: Path) -> None:
    real = tmp_path / "real.xml"
    real.write_bytes(GUIDE.read_bytes())
    link = tmp_path / "link.xml"
    link.symlink_to(real)
    result = cli("attach", str(link), "--source", "/dev/dax9.0", "--size", "4GiB")
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink()
    assert b"/dev/dax9.0" in real.read_bytes()


def _xattr_supported(path: Path) -> bool:
    try:
        os.setxattr(path, "user.famfs-xml-probe", b"1")
        os.removexattr(path, "user.famfs-xml-probe")
    except OSError:
        return False
    return True


def test_fix_keeps_extended_attributes(cli: Cli, private_vm: Path) -> None:
    if not _xattr_supported(private_vm):
        pytest.skip("the temporary directory's file system has no user.* extended attributes")
    os.setxattr(private_vm, "user.origin", b"vm-repo")
    os.setxattr(private_vm, "user.checked", b"")
    inode = private_vm.stat().st_ino
    result = cli("fix", str(private_vm))
    assert result.exit_code == 0, result.stderr
    assert private_vm.stat().st_ino != inode  # really a new file, renamed over the old one
    assert b"access='shared'" in private_vm.read_bytes()
    assert os.getxattr(private_vm, "user.origin") == b"vm-repo"
    assert os.getxattr(private_vm, "user.checked") == b""


def test_fix_keeps_a_posix_acl(cli: Cli, private_vm: Path) -> None:
    if shutil.which("setfacl") is None or shutil.which("getfacl") is None:
        pytest.skip("setfacl/getfacl are not installed (package acl)")
    private_vm.chmod(0o640)
    acl = subprocess.run(["setfacl", "-m", "u:nobody:r", str(private_vm)], check=False)
    if acl.returncode != 0:
        pytest.skip("the temporary directory's file system has no POSIX ACLs")

    def show() -> str:
        return subprocess.run(
            ["getfacl", "--omit-header", str(private_vm)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    before = show()
    assert "user:nobody:r--" in before
    result = cli("fix", str(private_vm))
    assert result.exit_code == 0, result.stderr
    assert b"access='shared'" in private_vm.read_bytes()
    assert show() == before
    assert private_vm.stat().st_mode & 0o777 == 0o640


def test_an_attribute_that_cannot_be_kept_leaves_the_original(
    cli: Cli, private_vm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not _xattr_supported(private_vm):
        pytest.skip("the temporary directory's file system has no user.* extended attributes")
    os.setxattr(private_vm, "user.origin", b"vm-repo")
    before = private_vm.read_bytes()

    def refuse(*_args: object) -> None:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    monkeypatch.setattr(os, "setxattr", refuse)
    result = cli("fix", "vm.xml", cwd=private_vm.parent)
    monkeypatch.undo()
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "famfs-xml: error: vm.xml: cannot write the fixed file (cannot keep the extended "
        "attribute user.origin (Operation not permitted)); the original is unchanged"
    ]
    assert private_vm.read_bytes() == before
    assert [p.name for p in private_vm.parent.iterdir()] == ["vm.xml"]


CONCURRENT = b"<!-- written by someone else meanwhile -->\n"


def test_fix_does_not_overwrite_a_file_changed_since_it_was_read(
    cli: Cli, private_vm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fix = run_module.fix_document

    def fix_while_someone_writes(*args: object, **kwargs: object) -> object:
        outcome = real_fix(*args, **kwargs)  # type: ignore[arg-type]
        with open(private_vm, "ab") as other_writer:  # the same inode, new content
            other_writer.write(CONCURRENT)
        return outcome

    monkeypatch.setattr(run_module, "fix_document", fix_while_someone_writes)
    before = private_vm.read_bytes()
    result = cli("fix", "vm.xml", cwd=private_vm.parent)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "famfs-xml: error: vm.xml: changed by another program since it was read; "
        "the fixed file was not written (run famfs-xml again)"
    ]
    assert private_vm.read_bytes() == before + CONCURRENT  # the other writer's work is kept
    assert [p.name for p in private_vm.parent.iterdir()] == ["vm.xml"]


def test_fix_does_not_overwrite_a_file_replaced_since_it_was_read(
    cli: Cli, private_vm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libvirt and editors replace a file by renaming a new one over it
    real_fix = run_module.fix_document
    replacement = _without_header(PRIVATE.read_bytes()).replace(b"<title>", b"<title>new ")

    def fix_while_someone_replaces(*args: object, **kwargs: object) -> object:
        outcome = real_fix(*args, **kwargs)  # type: ignore[arg-type]
        fresh = private_vm.with_name("fresh.tmp")
        fresh.write_bytes(replacement)
        fresh.replace(private_vm)
        return outcome

    monkeypatch.setattr(run_module, "fix_document", fix_while_someone_replaces)
    result = cli("fix", "vm.xml", cwd=private_vm.parent)
    assert result.exit_code == 2
    assert "changed by another program since it was read" in result.stderr
    assert private_vm.read_bytes() == replacement


def test_attach_does_not_overwrite_a_file_changed_since_it_was_read(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a.xml", tmp_path / "b.xml"
    for path in (first, second):
        path.write_bytes(GUIDE.read_bytes())
    real_attach = attach_module.attach_document

    def attach_while_someone_writes(doc: object, spec: object) -> object:
        change = real_attach(doc, spec)  # type: ignore[arg-type]
        if str(doc.path).endswith("b.xml"):  # type: ignore[attr-defined]
            with open(second, "ab") as other_writer:
                other_writer.write(CONCURRENT)
        return change

    monkeypatch.setattr(attach_module, "attach_document", attach_while_someone_writes)
    result = cli(
        "attach", "a.xml", "b.xml", "--source", "/dev/dax9.0", "--size", "4GiB", cwd=tmp_path
    )
    assert result.exit_code == 2
    assert (
        "famfs-xml: error: b.xml: changed by another program since it was read; "
        "the changed file was not written (run famfs-xml again)"
    ) in result.stderr.splitlines()
    assert second.read_bytes() == GUIDE.read_bytes() + CONCURRENT
    assert b"/dev/dax9.0" in first.read_bytes()  # the other file was still written


def test_write_atomic_checks_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "f.xml"
    target.write_bytes(b"<a/>")
    with pytest.raises(fileio.FileChanged):
        fileio.write_atomic(target, b"<b/>", expected=b"<c/>")
    assert target.read_bytes() == b"<a/>"
    fileio.write_atomic(target, b"<b/>", expected=b"<a/>")
    assert target.read_bytes() == b"<b/>"
    fileio.write_atomic(target, b"<c/>")
    assert target.read_bytes() == b"<c/>"
    assert [p.name for p in tmp_path.iterdir()] == ["f.xml"]


def test_fixing_libvirts_saved_definition_says_libvirt_will_not_see_it(
    cli: Cli, tmp_path: Path
) -> None:
    saved = tmp_path / "famfs-node10.xml"
    saved.write_bytes(PRIVATE.read_bytes())
    result = cli("fix", "famfs-node10.xml", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "famfs-xml: note: famfs-node10.xml is libvirt's saved definition of famfs-node10: "
        "a running libvirtd keeps its own copy, does not see this change, and writes its "
        "copy back over the file the next time it saves the domain; use "
        "`famfs-xml fix --connect qemu:///system famfs-node10`"
    ]
    assert b"access='shared'" in saved.read_bytes()


def test_attach_to_libvirts_saved_definition_says_libvirt_will_not_see_it(
    cli: Cli, tmp_path: Path
) -> None:
    saved = tmp_path / "famfs-node10.xml"
    saved.write_bytes(PRIVATE.read_bytes())
    result = cli(
        "attach", "famfs-node10.xml", "--source", "/dev/dax9.0", "--size", "4GiB", cwd=tmp_path
    )
    assert result.exit_code == 1, result.stderr  # the fixture's private nvdimm (FX301) stays
    assert b"/dev/dax9.0" in saved.read_bytes()
    assert (
        "use `famfs-xml attach --connect qemu:///system famfs-node10 --source /dev/dax9.0`"
        in result.stderr
    )


def test_no_note_for_other_files_or_unchanged_ones(
    cli: Cli, tmp_path: Path, private_vm: Path
) -> None:
    assert cli("fix", str(private_vm)).stderr == ""
    clean_saved = tmp_path / "clean.xml"
    clean_saved.write_bytes(cli("fix", "-", stdin=PRIVATE.read_bytes()).stdout.encode())
    result = cli("fix", str(clean_saved))
    assert result.exit_code == 0 and result.stderr == ""
