"""The step runner for guests that run ``famfs-xml`` steps (see ``guestlab.py``).

It runs inside the guest, in the chroot of the host root, started by the guest's ``run.sh``
with the batch (``steps.json``) and the console nonce. Shell steps run exactly as the shell
runner runs them (``timeout -k 5 T /bin/sh STEP.sh``). A ``famfs-xml`` step runs in a child
forked from this process, which has already imported famfs-xml's command line: the child is
the process ``famfs-xml ARGS`` would be (fresh state, its own stdin, stdout and stderr, its
own exit code), without the interpreter's start and the imports, which take 3-5 s each under
TCG and would dominate the tests. A Python step runs its source in such a child too. Results
go to the console between the same markers.

Standard library only, and no import of the tests: the guest runs it with the session's
interpreter, ``PYTHONPATH`` set to the checkout under test.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from typing import Any

KILL_AFTER = 5.0  # as `timeout -k 5`
TIMED_OUT = 124  # `timeout`'s exit code for a command it stopped
KILLED = 128 + signal.SIGKILL
SCRATCH = os.environ.get("FX_SCRATCH", "/run/fx")  # the guest's writable scratch space


def _uptime() -> str:
    with open("/proc/uptime", encoding="ascii") as handle:
        return handle.read().split()[0]


def _console(data: bytes) -> None:
    os.write(1, data)


def _wait_for(event: str, seconds: float) -> bool:
    """Whether the step ``event`` ("GUEST.STEP") ended within ``seconds``; False at once when
    that guest is gone (the host's "GUEST.ended" event)."""
    path = os.path.join(os.environ["FX_EVENTS"], event)
    gone = os.path.join(os.environ["FX_EVENTS"], event.split(".", 1)[0] + ".ended")
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if os.path.exists(gone) or time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _exit_code(exc: SystemExit) -> int:
    """The exit status the interpreter gives for an uncaught ``SystemExit``."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _famfs_xml(argv: list[str]) -> None:
    sys.argv = ["famfs-xml", *argv]
    from famfs_xml.cli.main import main

    main()


def _python(name: str, source: str) -> None:
    exec(compile(source, f"<step {name}>", "exec"), {"__name__": "__main__"})


def _child(name: str, step: dict[str, Any], out: str, err: str) -> None:
    """In the forked child: run the step's famfs-xml or Python, and never return."""
    code = 1
    try:
        os.setpgid(0, 0)  # a timeout stops the tools it runs too
        for fd, path, flags in (
            (0, os.devnull, os.O_RDONLY),
            (1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (2, err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ):
            opened = os.open(path, flags, 0o644)
            os.dup2(opened, fd)
            os.close(opened)
        os.environ["FX_STEP"] = name
        try:
            if step["argv"] is not None:
                _famfs_xml(step["argv"])
            else:
                _python(name, step["python"])
            code = 0
        except SystemExit as exc:
            code = _exit_code(exc)
        except BaseException:
            traceback.print_exc()
            code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed stream must not hide the exit code
                stream.flush()
        os._exit(code)


def _run_forked(name: str, step: dict[str, Any], seconds: float, out: str, err: str) -> int:
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(name, step, out, err)
    deadline = time.monotonic() + seconds
    signal_sent = 0
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        now = time.monotonic()
        if now > deadline and signal_sent == 0:
            signal_sent = signal.SIGTERM
            _kill_group(pid, signal.SIGTERM)
            deadline = now + KILL_AFTER
        elif now > deadline and signal_sent == signal.SIGTERM:
            signal_sent = signal.SIGKILL
            _kill_group(pid, signal.SIGKILL)
        time.sleep(0.05)
    if signal_sent == signal.SIGKILL:
        return KILLED
    if signal_sent:
        return TIMED_OUT
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code  # a signal: as the shell reports it


def _kill_group(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, number)


def _run_shell(name: str, run_dir: str, seconds: int, out: str, err: str) -> int:
    script = os.path.join(run_dir, "steps", f"{name}.sh")
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        done = subprocess.run(
            ["timeout", "-k", "5", str(seconds), "/bin/sh", script],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            env=dict(os.environ, FX_STEP=name),
            check=False,
        )
    return done.returncode & 0xFF


def _report(nonce: str, name: str, code: int, started: str, out: str, err: str) -> None:
    ended = _uptime()
    with open(out, "rb") as handle:
        stdout = handle.read()
    with open(err, "rb") as handle:
        stderr = handle.read()
    _console(
        f"@@FX:{nonce}:BEGIN:{name}@@\n".encode()
        + stdout
        + f"\n@@FX:{nonce}:STDERR:{name}@@\n".encode()
        + stderr
        + f"\n@@FX:{nonce}:END:{name}:{code}:{started}:{ended}@@\n".encode()
    )


def _preload() -> None:
    """Import the command line once; a child that cannot import it reports that itself."""
    with contextlib.suppress(BaseException):
        import famfs_xml.cli.app
        import famfs_xml.cli.main  # noqa: F401


def run(batch: dict[str, Any], nonce: str) -> None:
    run_dir = os.environ["FX_RUN"]
    out, err = os.path.join(SCRATCH, "out"), os.path.join(SCRATCH, "err")
    _preload()
    for step in batch["steps"]:
        name, seconds, after = step["name"], step["timeout"], step["after"]
        started = _uptime()
        if after and not _wait_for(after, seconds):
            with open(out, "wb"), open(err, "w", encoding="utf-8") as handle:
                handle.write(f"waited {seconds} s for {after} in vain\n")
            code = TIMED_OUT
        elif step["argv"] is not None or step["python"] is not None:
            code = _run_forked(name, step, seconds, out, err)
        else:
            code = _run_shell(name, run_dir, seconds, out, err)
        _report(nonce, name, code, started, out, err)
    _console(f"@@FX:{nonce}:DONE@@\n".encode())


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        batch = json.load(handle)
    os.makedirs(SCRATCH, exist_ok=True)
    run(batch, sys.argv[2])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
