"""The pre-commit hooks, run by the real pre-commit on a repository laid out like
/etc/libvirt/qemu: domain files at the top, networks/default.xml, autostart/ symlinks.

pre-commit installs famfs-xml from a snapshot of this source tree (a throwaway git repository
committed from the working tree) into its own virtualenv, once per test session.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from workflow_samples import BROKEN, CLEAN, NETWORK, ROOT

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

GIT_IDENTITY = [
    "-c",
    "user.name=famfs-xml tests",
    "-c",
    "user.email=tests@famfs-xml.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
]


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *GIT_IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def _source_files() -> list[str]:
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    return [name for name in listed if name and (ROOT / name).is_file()]


@dataclass
class HookRepo:
    """A snapshot of this project that pre-commit can install hooks from."""

    url: str
    rev: str
    home: Path


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HookRepo]:
    try:
        import pre_commit  # noqa: F401
    except ImportError:
        pytest.skip("pre-commit is not installed")
    base = tmp_path_factory.mktemp("precommit")
    source = base / "famfs-xml"
    for name in _source_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    if not (source / "README.md").exists():  # the package metadata names a readme
        (source / "README.md").write_text("famfs-xml\n")
    _git(source, "init", "-q")
    _git(source, "add", "-A")
    _git(source, "commit", "-q", "-m", "snapshot")
    yield HookRepo(str(source), _git(source, "rev-parse", "HEAD"), base / "home")


@dataclass
class Run:
    code: int
    output: str


class QemuRepo:
    """A git repository shaped like /etc/libvirt/qemu, with the famfs-xml hooks configured."""

    def __init__(self, path: Path, hooks: HookRepo, *, hook_args: list[str] | None = None):
        self.path = path
        self.hooks = hooks
        path.mkdir()
        _git(path, "init", "-q")
        args = "" if hook_args is None else f"\n        args: {hook_args}"
        (path / ".pre-commit-config.yaml").write_text(f"""\
repos:
  - repo: {hooks.url}
    rev: {hooks.rev}
    hooks:
      - id: famfs-xml-lint{args}
      - id: famfs-xml-fix{args}
""")

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def link(self, name: str, points_to: str) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(points_to)

    def run(self, hook: str) -> Run:
        return self._pre_commit("run", hook, "--all-files", "--verbose")

    def run_all(self) -> Run:
        return self._pre_commit("run", "--all-files", "--verbose")

    def _pre_commit(self, *args: str) -> Run:
        _git(self.path, "add", "-A")
        env = dict(
            os.environ, PRE_COMMIT_HOME=str(self.hooks.home), PRE_COMMIT_COLOR="never", NO_COLOR="1"
        )
        env.pop("GITHUB_ACTIONS", None)
        done = subprocess.run(
            [sys.executable, "-m", "pre_commit", *args],
            cwd=self.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        return Run(done.returncode, done.stdout + done.stderr)


@pytest.fixture
def qemu_repo(tmp_path: Path, hook_repo: HookRepo) -> QemuRepo:
    repo = QemuRepo(tmp_path / "qemu", hook_repo)
    repo.write("vm1.xml", CLEAN)
    repo.write("networks/default.xml", NETWORK)
    repo.link("autostart/vm1.xml", "../vm1.xml")
    repo.link("networks/autostart/default.xml", "../default.xml")
    return repo


def test_lint_hook_passes_on_clean_domains_networks_and_symlinks(qemu_repo: QemuRepo) -> None:
    qemu_repo.write("vm2.xml", CLEAN.replace("<name>vm1</name>", "<name>vm2</name>"))
    run = qemu_repo.run("famfs-xml-lint")
    assert run.code == 0, run.output
    assert "Passed" in run.output
    assert "FX004" not in run.output  # the <network> file draws no complaint


def test_lint_hook_fails_on_a_broken_domain(qemu_repo: QemuRepo) -> None:
    qemu_repo.write("vm2.xml", BROKEN)
    run = qemu_repo.run("famfs-xml-lint")
    assert run.code == 1, run.output
    assert "vm2.xml:" in run.output
    for code in ("FX301", "FX302", "FX303"):
        assert code in run.output
    # the clean domain draws only FX501: it shares /dev/dax1.0 with the broken one
    assert all("FX501" in line for line in run.output.splitlines() if line.startswith("vm1.xml:"))
    assert not any(line.startswith("networks/") for line in run.output.splitlines())


def test_fix_hook_repairs_then_passes(qemu_repo: QemuRepo) -> None:
    broken = qemu_repo.write("vm2.xml", BROKEN)
    first = qemu_repo.run("famfs-xml-fix")
    assert first.code == 1, first.output  # files were changed: the commit must stop
    assert "files were modified by this hook" in first.output
    fixed = broken.read_text()
    assert "access='shared'" in fixed and "<pmem/>" in fixed and "<alignsize" in fixed
    assert (qemu_repo.path / "vm1.xml").read_text() == CLEAN
    assert (qemu_repo.path / "networks/default.xml").read_text() == NETWORK
    second = qemu_repo.run("famfs-xml-fix")
    assert second.code == 0, second.output
    assert qemu_repo.run("famfs-xml-lint").code == 0


def test_lint_hook_compares_domains_sharing_a_device(qemu_repo: QemuRepo) -> None:
    """FX501 needs both domains in one invocation: require_serial makes pre-commit pass all
    files together instead of splitting them across parallel jobs."""
    for index in range(2, 9):  # enough files that a parallel split would separate them
        qemu_repo.write(
            f"vm{index}.xml", CLEAN.replace("<name>vm1</name>", f"<name>vm{index}</name>")
        )
    odd = CLEAN.replace("<name>vm1</name>", "<name>vm9</name>").replace(
        "<size unit='MiB'>16</size>", "<size unit='MiB'>32</size>"
    )
    qemu_repo.write("vm9.xml", odd)
    run = qemu_repo.run("famfs-xml-lint")
    assert run.code == 1, run.output
    assert "FX501" in run.output
    # vm9 is the one that differs, and it was compared with all eight others at once
    assert "vm9.xml" in run.output and "16 MiB in all 8 others" in run.output
    assert "vm1.xml" not in run.output


def _documented_config(hooks: HookRepo, *, fixing: bool = True) -> str:
    """The .pre-commit-config.yaml snippet of docs/workflow.md that fixes (or only checks),
    pointed at the snapshot."""
    doc = (ROOT / "docs" / "workflow.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.DOTALL)
    snippet = next(
        block
        for block in blocks
        if "famfs-xml-lint" in block
        and ("famfs-xml-fix" in block) == fixing
        and "repo: local" not in block
    )
    snippet = re.sub(r"repo: \S+", f"repo: {hooks.url}", snippet, count=1)
    return re.sub(r"rev: \S+", f"rev: {hooks.rev}", snippet, count=1)


def test_documented_config_fixes_then_passes(qemu_repo: QemuRepo) -> None:
    (qemu_repo.path / ".pre-commit-config.yaml").write_text(_documented_config(qemu_repo.hooks))
    broken = qemu_repo.write("vm2.xml", BROKEN.replace("/dev/dax1.0", "/dev/dax2.0"))
    first = qemu_repo.run_all()
    assert first.code == 1, first.output  # the fix hook changed vm2.xml
    assert "access='shared'" in broken.read_text()
    second = qemu_repo.run_all()
    assert second.code == 0, second.output
    assert (qemu_repo.path / "networks/default.xml").read_text() == NETWORK


def test_documented_check_config_stops_the_commit_and_changes_nothing(
    qemu_repo: QemuRepo,
) -> None:
    (qemu_repo.path / ".pre-commit-config.yaml").write_text(
        _documented_config(qemu_repo.hooks, fixing=False)
    )
    text = BROKEN.replace("/dev/dax1.0", "/dev/dax2.0")
    broken = qemu_repo.write("vm2.xml", text)
    run = qemu_repo.run_all()
    assert run.code == 1, run.output
    assert "FX301" in run.output
    assert broken.read_text() == text
