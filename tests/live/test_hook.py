"""``famfs-xml libvirt-hook``: what the start-time gate lets through and what it refuses, run
as libvirt runs it but without a daemon (tests/live/test_daemon.py has the real one)."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from famfs_xml.cli import hook
from famfs_xml.live import hook as gate
from famfs_xml.live import wrapper as wrapper_module
from tests.conftest import REPO, Cli, CliResult
from tests.live.fake_libvirt import libvirt_copy

# The fixture's /dev/dax0.0 is not on this machine; the gate checks the backing (as
# ``lint --host``), so the tests back their nvdimm with a sparse file of the same 8 GiB.
BACKING = "/dev/dax0.0"
PRIVATE_ON_DAX = libvirt_copy("FX301-nvdimm-private.xml", "vm1")


@pytest.fixture(scope="module")
def backing(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("backing") / "famfs.img"
    with open(path, "wb") as sparse:
        sparse.truncate(8 * 1024**3)
    return str(path).encode()


@pytest.fixture
def private(backing: bytes) -> bytes:
    return PRIVATE_ON_DAX.replace(BACKING.encode(), backing)


@pytest.fixture
def shared(private: bytes) -> bytes:
    return private.replace(b"access='private'", b"access='shared'")


def _without_memory_devices(xml: bytes) -> bytes:
    return xml[: xml.index(b"    <memory model=")] + b"  </devices>\n</domain>\n"


def _ignoring_private_access(xml: bytes) -> bytes:
    return xml.replace(
        b"  </metadata>",
        b'    <famfs:lint xmlns:famfs="urn:famfs-xml:lint:1">\n'
        b'      <famfs:ignore rule="FX301,FX501" reason="a private copy on purpose"/>\n'
        b"    </famfs:lint>\n  </metadata>",
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """libvirt's directory of running domains, empty: nothing else runs."""
    directory = tmp_path / "run"
    directory.mkdir()
    return directory


@pytest.fixture
def defined_dir(tmp_path: Path) -> Path:
    """libvirt's directory of defined domains, empty: no other domain is defined."""
    directory = tmp_path / "defined"
    directory.mkdir()
    return directory


@pytest.fixture
def cli(famfs_cli: Cli, defined_dir: Path) -> Cli:
    """``famfs-xml``, its hook reading this test's defined domains (not /etc/libvirt/qemu)."""

    def invoke(*args: str, stdin: bytes = b"", cwd: Path | None = None) -> CliResult:
        if args[:1] == ("libvirt-hook",):
            args = (args[0], "--defined-dir", str(defined_dir), *args[1:])
        return famfs_cli(*args, stdin=stdin, cwd=cwd)

    return invoke


def _start(cli: Cli, xml: bytes, run_dir: Path, *extra: str) -> tuple[int, str]:
    result = cli(
        "libvirt-hook", "--run-dir", str(run_dir), *extra, "vm1", "prepare", "begin", "-", stdin=xml
    )
    assert result.stdout == ""
    return result.exit_code, result.stderr


def _defined(defined_dir: Path, name: str, xml: bytes) -> None:
    """Another domain libvirt holds (its saved /etc/libvirt/qemu/NAME.xml)."""
    (defined_dir / f"{name}.xml").write_bytes(
        xml.replace(b"<name>vm1</name>", f"<name>{name}</name>".encode())
    )


def test_a_private_nvdimm_of_a_lone_domain_starts(cli: Cli, run_dir: Path, private: bytes) -> None:
    """A private mapping is this domain's own business while no other domain uses the
    backing: it starts (lint still reports FX301)."""
    assert _start(cli, private, run_dir) == (0, "")


def test_a_private_nvdimm_on_a_backing_another_domain_uses_refuses_the_start_with_one_line(
    cli: Cli, run_dir: Path, defined_dir: Path, private: bytes, shared: bytes
) -> None:
    _defined(defined_dir, "vm2", shared)
    code, stderr = _start(cli, private, run_dir)
    assert code == 1
    assert stderr == (
        "famfs-xml refuses to start vm1: FX301 nvdimm has access='private': QEMU maps the "
        "backing privately (share=off), so the guest writes a private copy that no other VM "
        "sees (also FX501); see `famfs-xml lint --connect qemu:///system vm1`, repair with "
        "`famfs-xml fix --connect qemu:///system vm1`\n"
    )


def test_a_private_nvdimm_on_a_backing_a_running_domain_uses_refuses_the_start(
    cli: Cli, run_dir: Path, private: bytes, shared: bytes
) -> None:
    (run_dir / "vm9.xml").write_bytes(_status("vm9", shared))
    code, stderr = _start(cli, private, run_dir)
    assert code == 1 and stderr.startswith("famfs-xml refuses to start vm1: FX301 ")


def test_an_inherited_shared_mapping_starts_beside_other_domains(
    cli: Cli, run_dir: Path, defined_dir: Path, private: bytes, shared: bytes
) -> None:
    """No access on the nvdimm, memAccess='shared' on its cell: QEMU maps it shared
    (libvirt 9.0 and 12.8), so the domain shares the device with the others."""
    inherited = private.replace(b" access='private'", b"").replace(
        b"<cell id='0' cpus='0-3'", b"<cell id='0' cpus='0-3' memAccess='shared'"
    )
    assert b"memAccess='shared'" in inherited
    _defined(defined_dir, "vm2", shared)
    assert _start(cli, inherited, run_dir) == (0, "")


def test_a_domain_that_would_not_start_is_refused_even_alone(
    cli: Cli, run_dir: Path, shared: bytes
) -> None:
    """A target larger than its backing: QEMU refuses to start it (FX305)."""
    larger = shared.replace(b"<size unit='KiB'>8388608</size>", b"<size unit='KiB'>16777216</size>")
    code, stderr = _start(cli, larger, run_dir)
    assert code == 1 and stderr.startswith("famfs-xml refuses to start vm1: ")
    assert "FX305" in stderr


def test_a_clean_domain_starts(cli: Cli, run_dir: Path, shared: bytes) -> None:
    assert _start(cli, shared, run_dir) == (0, "")


def test_a_domain_without_memory_devices_always_starts(
    cli: Cli, run_dir: Path, private: bytes
) -> None:
    # even one that would draw errors (here: no <maxMemory> for a memory device is moot,
    # but a broken document would be libvirt's business)
    assert _start(cli, _without_memory_devices(private), run_dir) == (0, "")
    assert _start(cli, _without_memory_devices(private).replace(b"</domain>", b""), run_dir) == (
        0,
        "",
    )


def test_a_metadata_ignore_lets_the_domain_start_on_purpose(
    cli: Cli, run_dir: Path, defined_dir: Path, private: bytes, shared: bytes
) -> None:
    _defined(defined_dir, "vm2", shared)
    assert _start(cli, private, run_dir)[0] == 1
    assert _start(cli, _ignoring_private_access(private), run_dir) == (0, "")


class _Unreadable(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def readinto(self, _buffer: object) -> int:
        raise AssertionError("the hook read stdin for an operation it does not gate")


@pytest.mark.parametrize(
    ("operation", "sub_operation"),
    [
        ("start", "begin"),
        ("started", "begin"),
        ("stopped", "end"),
        ("release", "end"),
        ("migrate", "begin"),
        ("restore", "begin"),
        ("reconnect", "begin"),
        ("attach", "begin"),
    ],
)
def test_every_other_operation_passes_without_reading_stdin(
    monkeypatch: pytest.MonkeyPatch, operation: str, sub_operation: str
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(_Unreadable())))
    assert hook.run(["vm1", operation, sub_operation, "-"]) == 0


def _status(name: str, domain: bytes) -> bytes:
    """libvirt's status file of a running domain (/run/libvirt/qemu/NAME.xml)."""
    body = domain.replace(b"<name>vm1</name>", f"<name>{name}</name>".encode())
    body = body.replace(b"<domain type='kvm'>", b"<domain type='kvm' id='7'>")
    return (
        b"<!--\nWARNING: THIS IS AN AUTO-GENERATED FILE.\n-->\n"
        b"<domstatus state='running' reason='booted' pid='4242'>\n"
        b"  <monitor path='/var/lib/libvirt/qemu/domain-7/monitor.sock' type='unix'/>\n"
        + body
        + b"</domstatus>\n"
    )


def test_a_running_domain_that_maps_the_device_differently_refuses_the_start(
    cli: Cli, run_dir: Path, shared: bytes, backing: bytes
) -> None:
    smaller = shared.replace(b"<size unit='KiB'>8388608</size>", b"<size unit='KiB'>4194304</size>")
    (run_dir / "vm9.xml").write_bytes(_status("vm9", smaller))
    (run_dir / "vm9.pid").write_text("4242")
    code, stderr = _start(cli, shared, run_dir)
    assert code == 1
    assert stderr.startswith(
        f"famfs-xml refuses to start vm1: FX501 {backing.decode()} is shared by 2 domains: "
        "target size 8 GiB here, 4 GiB in the other (libvirt:vm9 (running));"
    )
    (run_dir / "vm9.xml").write_bytes(_status("vm9", shared))
    assert _start(cli, shared, run_dir) == (0, "")


def test_a_start_must_agree_with_a_running_domain_however_many_agree_with_it(
    cli: Cli, run_dir: Path, defined_dir: Path, shared: bytes
) -> None:
    """Two defined domains agree with the starting one, so the running one is lint's outlier;
    the gate still refuses: the guests would map the one device differently."""
    smaller = shared.replace(b"<size unit='KiB'>8388608</size>", b"<size unit='KiB'>4194304</size>")
    (run_dir / "vm9.xml").write_bytes(_status("vm9", smaller))
    (run_dir / "vm9.pid").write_text("4242")
    for name in ("vm2", "vm3"):
        _defined(defined_dir, name, shared)
    code, stderr = _start(cli, shared, run_dir)
    assert code == 1 and "FX501" in stderr, stderr
    assert "4 GiB in 1 of the 3 others (libvirt:vm9 (running))" in stderr


def test_the_starting_domains_own_status_file_is_not_compared(
    cli: Cli, run_dir: Path, private: bytes, shared: bytes
) -> None:
    (run_dir / "vm1.xml").write_bytes(_status("vm1", private))  # left from an earlier run
    assert _start(cli, shared, run_dir) == (0, "")


def test_a_config_file_applies(
    cli: Cli, run_dir: Path, defined_dir: Path, private: bytes, shared: bytes, tmp_path: Path
) -> None:
    _defined(defined_dir, "vm2", shared)
    config = tmp_path / "gate.toml"
    config.write_text('ignore = ["FX301", "FX501"]\n')
    assert _start(cli, private, run_dir, "--config", str(config)) == (0, "")


def test_a_broken_config_file_refuses_the_start(
    cli: Cli, run_dir: Path, shared: bytes, tmp_path: Path
) -> None:
    config = tmp_path / "gate.toml"
    config.write_text("selekt = []\n")
    code, stderr = _start(cli, shared, run_dir, "--config", str(config))
    assert code == 1
    assert stderr.startswith("famfs-xml refuses to start vm1: ")
    assert "selekt" in stderr and stderr.count("\n") == 1


def test_an_internal_error_lets_the_start_through_and_says_so(
    cli: Cli, run_dir: Path, private: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object) -> str | None:
        raise RuntimeError("boom")

    monkeypatch.setattr(gate, "refusal", broken)
    monkeypatch.delenv("FAMFS_XML_DEBUG", raising=False)
    assert _start(cli, private, run_dir) == (
        0,
        "famfs-xml libvirt-hook: internal error: RuntimeError: boom; "
        "vm1 was let through unchecked\n",
    )


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["vm1"],
        ["vm1", "prepare", "begin"],
        ["--bogus", "vm1", "prepare", "begin", "-"],
        ["--config"],
        ["vm1", "prepare", "begin", "-", "more"],
    ],
)
def test_a_call_libvirt_does_not_make_is_a_usage_error(cli: Cli, args: list[str]) -> None:
    result = cli("libvirt-hook", *args)
    assert (result.exit_code, result.stderr) == (2, hook.USAGE + "\n")


def test_the_hook_starts_without_typer() -> None:
    import subprocess

    probe = (
        "import sys, io\n"
        "sys.stdin = io.TextIOWrapper(io.BytesIO(b''))\n"
        "from famfs_xml.cli.main import run\n"
        "code = run(['libvirt-hook', 'vm1', 'started', 'begin', '-'])\n"
        "print(code, 'typer' in sys.modules, 'lxml' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "False"]


@pytest.fixture
def larger(shared: bytes) -> bytes:
    """A target larger than its backing: QEMU refuses to start it (FX305)."""
    return shared.replace(b"<size unit='KiB'>8388608</size>", b"<size unit='KiB'>16777216</size>")


def test_a_domain_whose_name_looks_like_an_option_is_gated_too(
    cli: Cli, run_dir: Path, larger: bytes
) -> None:
    for name in ("-x", "--install", "-h"):
        result = cli(
            "libvirt-hook", "--run-dir", str(run_dir), name, "prepare", "begin", "-", stdin=larger
        )
        assert result.exit_code == 1, name
        assert result.stderr.startswith(f"famfs-xml refuses to start {name}: "), name
        assert "FX305" in result.stderr, name


def test_the_pass_through_imports_nothing_but_the_launcher_and_the_event_test() -> None:
    """libvirt's every other event: not even typing or pathlib is imported before the hook
    answers (what makes it cost about a bare Python start)."""
    import subprocess

    probe = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from famfs_xml.cli.main import run\n"
        "code = run(['libvirt-hook', 'vm1', 'started', 'begin', '-'])\n"
        "print(code, *sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    code, *loaded = out.stdout.split()
    assert code == "0"
    assert set(loaded) <= {
        "__future__",
        "famfs_xml",
        "famfs_xml.cli",
        "famfs_xml.cli.main",
        "famfs_xml.cli.hook",
        "famfs_xml.live",
        "famfs_xml.live.hook",
    }, loaded


# -- the installed wrapper ---------------------------------------------------------------------

PROGRAM = [sys.executable, str(REPO / "scripts" / "famfs-xml")]  # this checkout's program


def _run(argv: list[str], stdin: bytes) -> tuple[int, str, str]:
    import subprocess

    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("FAMFS_XML_DEBUG", None)
    done = subprocess.run(argv, input=stdin, capture_output=True, env=env, check=False)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.fixture
def daemon_dirs(run_dir: Path, defined_dir: Path) -> list[str]:
    return ["--run-dir", str(run_dir), "--defined-dir", str(defined_dir)]


@pytest.fixture
def wrapper(tmp_path: Path, daemon_dirs: list[str]) -> Path:
    """The wrapper --install writes, pointed at this checkout's program."""
    path = tmp_path / "qemu.d" / "famfs-xml"
    path.parent.mkdir()
    path.write_text(wrapper_module.script(PROGRAM, daemon_dirs))
    path.chmod(0o755)
    return path


CALLS = [
    ["vm1", "prepare", "begin", "-"],
    ["vm1", "start", "begin", "-"],
    ["vm1", "started", "begin", "-"],
    ["vm1", "stopped", "end", "-"],
    ["vm1", "release", "end", "-"],
    ["vm1", "migrate", "begin", "-"],
    ["vm1", "restore", "begin", "-"],
    ["vm1", "reconnect", "begin", "-"],
    ["vm1", "prepare", "end", "-"],
    ["vm1", "begin", "prepare", "-"],
    ["prepare", "begin", "vm1", "-"],
    ["-x", "started", "begin", "-"],
    ["-x", "prepare", "begin", "-"],
    ["vm1", "-prepare", "begin", "-"],
    ["vm1", "prepare", "--begin", "-"],
    ["vm1", "a:-b", "begin", "-"],
    ["vm1", "prepare", "begin"],
    ["vm1", "prepare", "begin", "-", "more"],
    [],
]


@pytest.mark.parametrize("call", CALLS, ids=lambda call: " ".join(call) or "no arguments")
@pytest.mark.parametrize("domain", ["shared", "larger"])  # started and refused
def test_the_wrapper_decides_as_famfs_xml_does(
    wrapper: Path,
    daemon_dirs: list[str],
    call: list[str],
    domain: str,
    request: pytest.FixtureRequest,
) -> None:
    xml: bytes = request.getfixturevalue(domain)
    direct = _run([*PROGRAM, "libvirt-hook", *daemon_dirs, *call], xml)
    assert _run([str(wrapper), *call], xml) == direct


def test_the_wrapper_lets_other_events_through_without_starting_python(tmp_path: Path) -> None:
    path = tmp_path / "famfs-xml"
    path.write_text(wrapper_module.script(["/nonexistent/python3", "-I", "-m", "famfs_xml"]))
    path.chmod(0o755)
    assert _run([str(path), "vm1", "started", "begin", "-"], b"<domain/>") == (0, "", "")
    code, _, stderr = _run([str(path), "vm1", "prepare", "begin", "-"], b"<domain/>")
    assert code != 0 and "/nonexistent/python3" in stderr


def test_install_writes_an_executable_wrapper(tmp_path: Path, famfs_cli: Cli) -> None:
    cli = famfs_cli  # no --defined-dir of the tests' own
    config = tmp_path / "gate.toml"
    config.write_text('ignore = ["FX301"]\n')
    result = cli(
        "libvirt-hook", "--install", "--hooks-dir", str(tmp_path / "hooks"), "--config", str(config)
    )
    written = tmp_path / "hooks" / "qemu.d" / "famfs-xml"
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"wrote {written};")
    assert written.stat().st_mode & 0o777 == 0o755
    text = written.read_text()
    expected = wrapper_module.script(
        wrapper_module.program(sys.executable), ["--config", str(config)]
    )
    assert text == expected
    assert text.startswith("#!/bin/sh\n")
    # written again over the old one, in place
    assert cli("libvirt-hook", "--install", "--hooks-dir", str(tmp_path / "hooks")).exit_code == 0
    assert "--config" not in written.read_text()
    assert os.listdir(written.parent) == ["famfs-xml"]


def test_install_refuses_a_program_that_cannot_start(
    tmp_path: Path, famfs_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wrapper_module, "program", lambda _python: ["/nonexistent/python3"])
    result = famfs_cli("libvirt-hook", "--install", "--hooks-dir", str(tmp_path / "hooks"))
    assert result.exit_code == 2
    assert result.stderr.startswith("famfs-xml: error: cannot run /nonexistent/python3")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "hooks").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--install", "--hooks-dir"],
        ["--install", "--bogus"],
        ["--install", "vm1"],
        ["--install", "--hooks-dir=", "x"],
    ],
)
def test_install_usage_errors(famfs_cli: Cli, args: list[str]) -> None:
    result = famfs_cli("libvirt-hook", *args)
    assert (result.exit_code, result.stderr) == (2, hook.USAGE + "\n")
