"""Malformed and hostile files: a finding and exit 1, quickly, never a traceback, never touched."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from famfs_xml.core.fileio import MAX_FILE_BYTES
from tests.conftest import Cli, run_entry_point
from tests.samples import GUIDE_VM

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<domain type='kvm'><name>&lol9;</name></domain>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE domain [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<domain type='kvm'><name>&secret;</name></domain>
"""

HOSTILE = {
    "truncated.xml": GUIDE_VM[: len(GUIDE_VM) // 2].encode(),
    "binary.xml": bytes(range(256)) * 64,
    "latin1-undeclared.xml": GUIDE_VM.replace("f39-dev2", "f39-d\xe9v2").encode("latin-1"),
    "billion-laughs.xml": BILLION_LAUGHS.encode(),
    "external-entity.xml": EXTERNAL_ENTITY.encode(),
    "empty.xml": b"",
    "only-comment.xml": b"<!-- nothing here -->\n",
    "two-roots.xml": b"<domain/><domain/>",
    "bad-encoding-declared.xml": b"<?xml version='1.0' encoding='no-such-codec'?><domain/>",
}

EXPECTED_CODE = {"billion-laughs.xml": "FX003", "external-entity.xml": "FX003"}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_gets_one_finding(cli: Cli, tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    target.write_bytes(HOSTILE[name])
    result = cli("lint", "--format", "json", name, cwd=tmp_path)
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert [f["code"] for f in findings] == [EXPECTED_CODE.get(name, "FX001")]
    assert "root:" not in result.stdout  # /etc/passwd was never read
    fixed = cli("fix", name, cwd=tmp_path)
    assert fixed.exit_code == 1
    assert target.read_bytes() == HOSTILE[name]


def test_entities_are_never_expanded_even_when_asked_to_fix(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "x.xml").write_text(EXTERNAL_ENTITY)
    result = cli("fix", "-", stdin=EXTERNAL_ENTITY.encode(), cwd=tmp_path)
    assert "root:x:0:0" not in result.stdout + result.stderr


def test_oversized_file_is_refused_without_reading_it(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "huge.xml"
    with target.open("wb") as handle:
        handle.write(b"<domain>")
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    result = cli("lint", "huge.xml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "FX001" in result.stdout and "limit" in result.stdout


def test_a_missing_directory_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("lint", str(tmp_path / "missing-dir") + "/")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("option", ["--inventory", "--output"])
def test_a_directory_where_a_file_belongs_is_a_usage_error(
    cli: Cli, tmp_path: Path, option: str
) -> None:
    (tmp_path / "vm.xml").write_text(GUIDE_VM)
    result = cli("lint", option, str(tmp_path), "vm.xml", cwd=tmp_path)
    assert result.exit_code == 2
    assert result.stderr.startswith("famfs-xml: error: ")
    assert result.stderr.count("\n") == 1


def test_utf16_with_bom_lints(cli: Cli, tmp_path: Path) -> None:
    text = "<?xml version='1.0' encoding='UTF-16'?>\n" + GUIDE_VM.replace(" access='shared'", "")
    (tmp_path / "u16.xml").write_bytes(text.encode("utf-16"))
    result = cli("lint", "u16.xml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "u16.xml:23:5: FX301" in result.stdout


def test_bad_numbers_are_findings_at_the_element(cli: Cli, tmp_path: Path) -> None:
    text = GUIDE_VM.replace(
        "<memory unit='GiB'>40</memory>", "<memory unit='GiB'>40G</memory>"
    ).replace("<size unit='GiB'>8</size>", "<size unit='GiBB'>8</size>")
    (tmp_path / "vm.xml").write_text(text)
    result = cli("lint", "vm.xml", cwd=tmp_path)
    assert result.exit_code == 1
    assert "vm.xml:4:3: FX001 <memory> memory: Invalid value '40G'" in result.stdout
    assert "vm.xml:29:9: FX001 <size> size: unknown suffix 'GiBB'" in result.stdout
    assert "Traceback" not in result.stderr


# --- the file system fights back ---------------------------------------------------------

NOBODY = 65534
FIXABLE_VM = GUIDE_VM.replace(" access='shared'", "")


def run_unprivileged(args: list[str], cwd: Path) -> tuple[int, str, str]:
    """``famfs-xml ARGS`` as an unprivileged user: this process if we are not root, else a
    forked child that drops to ``nobody`` (the interpreter may live where nobody cannot
    read, so everything the run needs is imported before the fork)."""
    import famfs_xml.cli.app
    import famfs_xml.cli.main
    import famfs_xml.lint.run  # the child may not be able to import anything
    import famfs_xml.report.json_report
    import famfs_xml.report.text

    if os.geteuid() != 0:
        out, err = io.StringIO(), io.StringIO()
        old_cwd = os.getcwd()
        os.chdir(cwd)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = famfs_xml.cli.main.run(args)
        finally:
            os.chdir(old_cwd)
        return code, out.getvalue(), err.getvalue()
    famfs_xml.lint.catalog.load_catalog()
    with contextlib.redirect_stdout(io.StringIO()):  # the command line's own lazy imports
        famfs_xml.cli.app.run([args[0], "--help"])
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 3
        try:
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            os.chdir(cwd)
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
            code = famfs_xml.cli.main.run(args)
        finally:
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    with os.fdopen(out_r, "rb") as out_file, os.fdopen(err_r, "rb") as err_file:
        out, err = out_file.read(), err_file.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(), err.decode()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory under /tmp that an unprivileged child can reach."""
    folder = Path(tempfile.mkdtemp(prefix="famfs-xml-test-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in folder.rglob("*"):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o700)
        shutil.rmtree(folder, ignore_errors=True)


def test_symlink_loops_in_a_scan_end_and_lint_each_file_once(tmp_path: Path) -> None:
    (tmp_path / "vms" / "sub").mkdir(parents=True)
    (tmp_path / "vms" / "vm.xml").write_text(FIXABLE_VM)
    (tmp_path / "vms" / "sub" / "vm2.xml").write_text(FIXABLE_VM)
    (tmp_path / "vms" / "loop").symlink_to(tmp_path / "vms")
    (tmp_path / "vms" / "sub" / "up").symlink_to("..")
    (tmp_path / "vms" / "sub" / "self").symlink_to("self")  # a link to itself
    (tmp_path / "vms" / "alias.xml").symlink_to("vm.xml")
    result = run_entry_point(["lint", "--format", "json", "vms"], cwd=tmp_path, timeout=60)
    assert result.exit_code == 1, result.stderr
    paths = sorted({f["path"] for f in json.loads(result.stdout)["findings"]})
    assert paths == ["vms/sub/vm2.xml", "vms/vm.xml"]


def test_permission_denied_is_one_error_line_per_path(shared_dir: Path) -> None:
    (shared_dir / "good.xml").write_text(GUIDE_VM)
    secret = shared_dir / "secret.xml"
    secret.write_text(FIXABLE_VM)
    secret.chmod(0o000)
    locked = shared_dir / "locked"
    locked.mkdir()
    (locked / "inner.xml").write_text(FIXABLE_VM)
    locked.chmod(0o000)
    code, out, err = run_unprivileged(["lint", "good.xml", "secret.xml", "locked"], shared_dir)
    assert code == 2, (out, err)
    assert err.splitlines() == [
        "famfs-xml: error: secret.xml: Permission denied",
        "famfs-xml: error: locked: Permission denied",
    ]
    assert "Traceback" not in err


def test_fix_in_a_read_only_directory_leaves_the_original(shared_dir: Path) -> None:
    target = shared_dir / "vm.xml"
    target.write_text(FIXABLE_VM)
    target.chmod(0o666)  # the file may be written, the directory may not
    shared_dir.chmod(0o555)
    code, out, err = run_unprivileged(["fix", "vm.xml"], shared_dir)
    shared_dir.chmod(0o755)
    assert code == 2, (out, err)
    assert err.splitlines() == [
        "famfs-xml: error: vm.xml: cannot write the fixed file (Permission denied); "
        "the original is unchanged"
    ]
    assert target.read_text() == FIXABLE_VM
    assert sorted(p.name for p in shared_dir.iterdir()) == ["vm.xml"]


@pytest.mark.parametrize("failing", ["write", "fsync"])
def test_a_full_disk_during_fix_leaves_the_original_and_no_temp_file(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "vm.xml"
    target.write_text(FIXABLE_VM)
    real = getattr(os, failing)

    def no_space(fd: int, *args: object) -> object:
        if fd > 2:  # not the test's own output
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, *args)

    monkeypatch.setattr(os, failing, no_space)
    result = cli("fix", "vm.xml", cwd=tmp_path)
    monkeypatch.undo()
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "famfs-xml: error: vm.xml: cannot write the fixed file (No space left on device); "
        "the original is unchanged"
    ]
    assert target.read_text() == FIXABLE_VM
    assert [p.name for p in tmp_path.iterdir()] == ["vm.xml"]
