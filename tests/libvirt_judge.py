"""Real libvirt as the judge of domain XML.

:class:`LibvirtJudge` drives ``virsh`` against libvirt's *embedded* QEMU driver
(``qemu:///embed?root=DIR``): no daemon, no systemd, and all state (saved domain files, the
QEMU capability cache, logs, NVRAM) lives under one temporary directory. The first call probes
the QEMU binary (a few seconds). Later commands go to one long-lived ``virsh`` and take
milliseconds, so a test session should share one judge.

Host prerequisites (Debian 12): the packages ``libvirt-daemon-driver-qemu libvirt-clients
qemu-system-x86 ovmf libxml2-utils`` and a ``libvirt-qemu`` system user, which the QEMU driver
looks up before it reads ``qemu.conf``.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = [
    "JudgeUnavailable",
    "LibvirtJudge",
    "ShellExited",
    "Verdict",
    "domain_name",
    "recorded",
    "unavailable_reason",
]

# root: no libvirt-qemu access problems with /dev/kvm or temp files; "file": no virtlogd;
# no per-guest mount namespace, cgroups or ownership xattrs, which containers often refuse.
QEMU_CONF = """\
user = "root"
group = "root"
stdio_handler = "file"
namespaces = [ ]
cgroup_controllers = [ ]
remember_owner = 0
"""

T = TypeVar("T")

_DOMAIN_TYPE_KVM = re.compile(rb"""(<domain\b[^>]*?\btype\s*=\s*)(['"])kvm\2""")
_CPU_HOST_PASSTHROUGH = re.compile(rb"""(<cpu\b[^>]*?\bmode\s*=\s*)(['"])host-passthrough\2""")
_INTERFACE = re.compile(rb"[ \t]*<interface\b.*?</interface>[ \t]*\r?\n?", re.DOTALL)
_NAME = re.compile(rb"<name>\s*([^<]*?)\s*</name>")
_UUID = re.compile(rb"<uuid>\s*([^<]*?)\s*</uuid>")
_ERROR_PREFIX = re.compile(r"^error: ", re.MULTILINE)


class JudgeUnavailable(RuntimeError):
    """libvirt's tools are not installed, or the embedded QEMU driver does not come up."""


class ShellExited(JudgeUnavailable):
    """The long-lived ``virsh`` went away in the middle of a command."""


@dataclass(frozen=True)
class Verdict:
    """What libvirt made of one request.

    ``message`` is libvirt's error text without virsh's ``error:`` prefixes (empty when
    ``ok``); ``output`` is what the command printed on success (e.g. the QEMU argv).
    """

    ok: bool
    message: str = ""
    output: str = ""

    def __bool__(self) -> bool:
        return self.ok


def recorded(by_release: Mapping[tuple[int, int], T], release: tuple[int, int]) -> T:
    """What was measured for the newest recorded release at or below ``release``: a
    verdict recorded for 9.0 holds for 9.0.x, one for 11.3 for 12.8 until 12.8 differs."""
    known = sorted(key for key in by_release if key <= release)
    if not known:
        raise AssertionError(f"nothing recorded for release {release}: {sorted(by_release)}")
    return by_release[known[-1]]


def unavailable_reason() -> str | None:
    """Why no judge can be built on this machine, or None when the tools are there."""
    missing = [tool for tool in ("virsh", "virt-xml-validate", "xmllint") if not shutil.which(tool)]
    if missing:
        return (
            f"libvirt tools not installed ({', '.join(missing)} missing): install "
            "libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 ovmf libxml2-utils"
        )
    if not Path("/usr/bin/qemu-system-x86_64").exists() and not shutil.which("qemu-system-x86_64"):
        return "qemu-system-x86_64 is not installed (package qemu-system-x86)"
    return None


def _first(pattern: re.Pattern[bytes], xml: bytes | str) -> str | None:
    data = xml.encode() if isinstance(xml, str) else xml
    match = pattern.search(data)
    return match.group(1).decode("utf-8", "replace") if match else None


def domain_name(xml: bytes | str) -> str | None:
    """The text of the first ``<name>``, found without parsing (works on broken XML too)."""
    return _first(_NAME, xml)


_NOISE = ("Failed to define domain from ", "Failed to start domain ")
# libvirt's own log lines, which a start failure quotes from the domain's log file
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d [\d:.+]+: \d+: (?:debug|info|warning) : ")


def _message(stderr: str) -> str:
    """libvirt's own words: virsh's prefixes and its "Failed to ..." preamble removed."""
    lines = [
        line
        for line in _ERROR_PREFIX.sub("", stderr).splitlines()
        if line.strip() and not line.startswith(_NOISE) and not _LOG_LINE.match(line)
    ]
    return "\n".join(lines)


class _VirshShell:
    """One long-lived interactive ``virsh``: the embedded driver starts once, not per call.

    Each command is followed by ``echo MARKER``; virsh echoes every input line after its
    prompt, so stdout reads ``PROMPT CMD\n<output>PROMPT echo MARKER\nMARKER``. Errors go
    to the unbuffered stderr and are complete once the marker shows up on stdout.
    """

    PROMPT = b"virsh # "

    def __init__(self, uri: str, env: dict[str, str], timeout: float) -> None:
        self._timeout = timeout
        self._count = 0
        self._proc = subprocess.Popen(
            ["virsh", "-q", "-c", uri],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # a wide "terminal", or readline folds long echoed commands
            env=dict(env, COLUMNS="1000000", TERM="dumb"),
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        os.set_blocking(self._proc.stdout.fileno(), False)
        os.set_blocking(self._proc.stderr.fileno(), False)

    def alive(self) -> bool:
        return self._proc.poll() is None

    def run(self, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self._count += 1
        marker = f"FXJUDGE_DONE_{self._count}".encode()
        line = " ".join(shlex.quote(arg) for arg in args).encode()
        try:
            proc.stdin.write(line + b"\necho " + marker + b"\n")
            proc.stdin.flush()
        except BrokenPipeError:
            raise ShellExited(self._exit_reason(line.decode(), bytearray())) from None
        out, err = bytearray(), bytearray()
        done = self.PROMPT + b"echo " + marker + b"\n" + marker
        deadline = time.monotonic() + self._timeout
        streams = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
        while done not in out:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.close()
                raise subprocess.TimeoutExpired(["virsh", *args], self._timeout)
            ready, _, _ = select.select(list(streams), [], [], remaining)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if not chunk and fd == proc.stdout.fileno():
                    raise ShellExited(self._exit_reason(line.decode(), err))
                streams[fd].extend(chunk)
        while True:  # stderr was written before the marker; drain what is left of it
            try:
                chunk = os.read(proc.stderr.fileno(), 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            err.extend(chunk)
        text = bytes(out[: out.index(done)])
        # The prompt before the command may already have been read with the last marker.
        text = text.removeprefix(self.PROMPT).removeprefix(line + b"\n")
        stderr = err.decode("utf-8", "replace")
        code = 1 if _ERROR_PREFIX.search(stderr) else 0
        return subprocess.CompletedProcess(
            ["virsh", *args], code, text.decode("utf-8", "replace"), stderr
        )

    def _exit_reason(self, command: str, err: bytearray) -> str:
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        how = f"signal {-code}" if code is not None and code < 0 else f"status {code}"
        tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
        return f"virsh exited ({how}) during: {command}" + (f": {' | '.join(tail)}" if tail else "")

    def close(self) -> None:
        if self.alive():
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(b"quit\n")
                self._proc.stdin.close()
                self._proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._proc.kill()
                self._proc.wait()


class LibvirtJudge:
    """One embedded libvirt QEMU driver in a private root directory.

    Domains that a method defines stay defined until :meth:`undefine` (or :meth:`close`), so
    :meth:`dumpxml_inactive` and :meth:`saved_xml` can look at them. :meth:`define` replaces a
    domain of the same name that this judge defined earlier.

    ``type='kvm'`` is rewritten to ``type='qemu'`` when the machine has no ``/dev/kvm`` (libvirt
    would otherwise refuse the domain outright), and always for :meth:`start`, which runs
    guests under TCG; such a domain's ``<cpu mode='host-passthrough'>`` becomes
    ``mode='maximum'``, which TCG supports.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        timeout: float = 120.0,
        persistent: bool = True,
        caps_cache: Path | None = None,
    ) -> None:
        reason = unavailable_reason()
        if reason is not None:
            raise JudgeUnavailable(reason)
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="fxjudge-")) if root is None else root
        (self.root / "etc").mkdir(parents=True, exist_ok=True)
        (self.root / "etc" / "qemu.conf").write_text(QEMU_CONF, encoding="utf-8")
        self._scratch = self.root / "scratch"
        self._scratch.mkdir(exist_ok=True)
        self.uri = f"qemu:///embed?root={self.root}"
        self.kvm = os.path.exists("/dev/kvm")
        self.timeout = timeout
        self._env = dict(os.environ, LIBVIRT_LOG_OUTPUTS="4:file:/dev/null", LC_ALL="C")
        self._defined: dict[str, str | None] = {}  # name -> uuid given in the XML
        self._running: set[str] = set()
        self._counter = 0
        self._persistent = persistent
        self._shell: _VirshShell | None = None
        self._versions: tuple[tuple[int, int], tuple[int, int]] | None = None
        # QEMU's capabilities, probed once (seconds) and kept across runs when asked to;
        # libvirt itself re-probes a cached entry that no longer fits the binary or host.
        self._caps_cache = caps_cache
        self._caps = self.root / "cache" / "qemu" / "capabilities"
        if caps_cache is not None and caps_cache.is_dir() and not self._caps.exists():
            shutil.copytree(caps_cache, self._caps)

    # -- plumbing -------------------------------------------------------------------------

    def virsh(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one ``virsh`` command against this judge's driver.

        With ``persistent`` (the default) the command goes to one long-lived virsh, which
        saves the driver start-up (tens of milliseconds) on every call; ``returncode`` is then
        1 when virsh reported an error, else 0.
        """
        if self._persistent:
            try:
                return self._live_shell().run(args)
            except ShellExited:
                # A virsh that died once (seen on CI, not reproducible) gets one fresh
                # successor; the driver's state lives on disk, so the retry sees the same
                # domains. Dying again on the same command is libvirt failing on this
                # input: an error verdict that says so, not an accepted domain.
                self._shell = None
            try:
                return self._live_shell().run(args)
            except ShellExited as exc:
                self._shell = None
                return subprocess.CompletedProcess(["virsh", *args], 1, "", f"error: {exc}\n")
        return subprocess.run(
            ["virsh", "-q", "-c", self.uri, *args],
            capture_output=True,
            text=True,
            env=self._env,
            timeout=self.timeout,
            check=False,
        )

    def _live_shell(self) -> _VirshShell:
        if self._shell is None or not self._shell.alive():
            self._shell = _VirshShell(self.uri, self._env, self.timeout)
        return self._shell

    def probe(self) -> Verdict:
        """Connect once (this runs QEMU's capability probe); raise if the driver is unusable."""
        result = self.virsh("capabilities")
        if result.returncode != 0:
            raise JudgeUnavailable(
                f"libvirt's embedded QEMU driver does not start: {_message(result.stderr)}"
            )
        result = self.virsh("domcapabilities", "--virttype", "qemu")
        if result.returncode != 0:
            raise JudgeUnavailable(f"QEMU capability probe failed: {_message(result.stderr)}")
        if self._caps_cache is not None and self._caps.is_dir():
            shutil.copytree(self._caps, self._caps_cache, dirs_exist_ok=True)
        return Verdict(True)

    def versions(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """(libvirt, QEMU) as ``(major, minor)``, from ``virsh version``: what the verdicts
        of this judge are true for (expected.toml records them per libvirt release)."""
        if self._versions is None:
            out = self.virsh("version").stdout
            libvirt = re.search(r"Using library: libvirt (\d+)\.(\d+)", out)
            qemu = re.search(r"Running hypervisor: QEMU (\d+)\.(\d+)", out)
            if libvirt is None or qemu is None:
                raise JudgeUnavailable(f"virsh version says no libvirt or QEMU release: {out!r}")
            self._versions = (
                (int(libvirt.group(1)), int(libvirt.group(2))),
                (int(qemu.group(1)), int(qemu.group(2))),
            )
        return self._versions

    @property
    def libvirt_version(self) -> tuple[int, int]:
        return self.versions()[0]

    @property
    def qemu_version(self) -> tuple[int, int]:
        return self.versions()[1]

    def prepare(self, xml: bytes | str, *, tcg: bool = False) -> bytes:
        """The bytes handed to libvirt: without KVM, a kvm domain becomes a TCG one."""
        data = xml.encode() if isinstance(xml, str) else xml
        if tcg or not self.kvm:
            data, count = _DOMAIN_TYPE_KVM.subn(rb"\1\2qemu\2", data, count=1)
            if count:
                # TCG cannot pass the host CPU through; 'maximum' is its closest equivalent.
                data = _CPU_HOST_PASSTHROUGH.sub(rb"\1\2maximum\2", data, count=1)
        return data

    def _write(self, xml: bytes | str, *, tcg: bool = False) -> Path:
        self._counter += 1
        path = self._scratch / f"in-{self._counter}.xml"
        path.write_bytes(self.prepare(xml, tcg=tcg))
        return path

    def _verdict(self, result: subprocess.CompletedProcess[str]) -> Verdict:
        if result.returncode == 0:
            return Verdict(True, output=result.stdout)
        return Verdict(False, message=_message(result.stderr) or result.stdout.strip())

    # -- the judge's questions ------------------------------------------------------------

    def validate(self, xml: bytes | str) -> Verdict:
        """libvirt's RelaxNG schema, through ``virt-xml-validate FILE domain``."""
        path = self._write(xml)
        result = subprocess.run(
            ["virt-xml-validate", str(path), "domain"],
            capture_output=True,
            text=True,
            env=self._env,
            timeout=self.timeout,
            check=False,
        )
        path.unlink()
        if result.returncode == 0:
            return Verdict(True, output=result.stdout)
        # xmllint reports on stderr and repeats the file's temporary name: keep the gist.
        text = (result.stderr + result.stdout).replace(str(path), "<input>")
        return Verdict(False, message=text.strip())

    def define(self, xml: bytes | str, validate: bool = True, *, tcg: bool = False) -> Verdict:
        """``virsh define [--validate]``; the domain stays defined on success.

        A domain of the same name defined earlier by this judge is replaced: libvirt updates
        it in place when the UUIDs agree, otherwise it is undefined first.
        """
        name = domain_name(xml)
        uuid = _first(_UUID, xml)
        if name in self._defined and (
            uuid is None or self._defined[name] != uuid or name in self._running
        ):
            assert name is not None
            self.undefine(name)
        path = self._write(xml, tcg=tcg)
        args = ["define", *(["--validate"] if validate else []), str(path)]
        verdict = self._verdict(self.virsh(*args))
        path.unlink()
        if verdict.ok and name is not None:
            self._defined[name] = uuid
        return verdict

    def dumpxml_inactive(self, name: str) -> str:
        """The persistent definition as libvirt now holds it (``dumpxml --inactive``)."""
        result = self.virsh("dumpxml", "--inactive", name)
        if result.returncode != 0:
            raise RuntimeError(f"dumpxml {name}: {_message(result.stderr)}")
        return result.stdout

    def saved_xml(self, name: str) -> bytes:
        """The file libvirt wrote for a defined domain (``/etc/libvirt/qemu/NAME.xml``)."""
        return (self.root / "etc" / "qemu" / f"{name}.xml").read_bytes()

    def to_native(self, xml: bytes | str) -> Verdict:
        """``domxml-to-native qemu-argv``: can libvirt build a QEMU command line from it?

        To build it, libvirt turns every ``<interface>`` into a tap device and opens
        ``/dev/net/tun``; where that device is missing (containers), the interfaces are left
        out of this check, which changes nothing else.
        """
        data = xml.encode() if isinstance(xml, str) else xml
        if not os.path.exists("/dev/net/tun"):
            data = _INTERFACE.sub(b"", data)
        path = self._write(data)
        verdict = self._verdict(self.virsh("domxml-to-native", "qemu-argv", "--xml", str(path)))
        path.unlink()
        return verdict

    def start(self, xml: bytes | str, *, validate: bool = False) -> Verdict:
        """Define the domain under TCG and ``virsh start`` it.

        On failure the message is libvirt's, which quotes QEMU's own error. A started domain
        must be stopped with :meth:`destroy` (``close`` does it for forgotten ones).
        """
        verdict = self.define(xml, validate=validate, tcg=True)
        if not verdict.ok:
            return verdict
        name = domain_name(xml)
        assert name is not None  # define succeeded, so the domain has a name
        verdict = self._verdict(self.virsh("start", name))
        if verdict.ok:
            self._running.add(name)
        return verdict

    def domstate(self, name: str) -> str:
        result = self.virsh("domstate", "--reason", name)
        return result.stdout.strip() if result.returncode == 0 else _message(result.stderr)

    def qemu_log(self, name: str) -> str:
        """QEMU's stdout/stderr for the domain (``stdio_handler = "file"``)."""
        path = self.root / "log" / "qemu" / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def destroy(self, name: str) -> Verdict:
        verdict = self._verdict(self.virsh("destroy", name))
        self._running.discard(name)
        return verdict

    def undefine(self, name: str) -> Verdict:
        if name in self._running:
            self.destroy(name)
        verdict = self._verdict(self.virsh("undefine", "--nvram", name))
        if not verdict.ok and "nvram" in verdict.message.lower():
            verdict = self._verdict(self.virsh("undefine", name))
        self._defined.pop(name, None)
        return verdict

    def defined(self) -> Sequence[str]:
        return sorted(self._defined)

    # -- lifetime -------------------------------------------------------------------------

    def release(self) -> None:
        """End the long-lived virsh; the next call starts a new one.

        The embedded driver locks its root: while this judge's virsh runs, no other process
        can use the same root.
        """
        if self._shell is not None:
            self._shell.close()
            self._shell = None

    def close(self) -> None:
        """Stop every guest this judge started, then remove its root (if it made it).

        A root the caller gave is kept, with the domains this judge defined undefined again.
        """
        for name in sorted(self._running):
            self.destroy(name)
        if self._shell is not None and self._own_root:
            self._shell.close()
            self._shell = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        else:
            for name in sorted(self._defined):
                self.undefine(name)
        self._defined.clear()
        if self._shell is not None:
            self._shell.close()
            self._shell = None

    def __enter__(self) -> LibvirtJudge:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
