"""The guest harness itself: how results are read from a console, and (in a real guest) what
happens to a step that runs too long, waits in vain or fails.

The console and naming tests, and the forked runner (``guestrun.py``) run on this host, need
no guest and run with the rest of the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from guestlab import (
    GUESTRUN,
    REPO,
    TOOL_CALLS,
    GuestLab,
    GuestResult,
    Step,
    parse_console,
    write_steps,
    write_tracer,
)

CONSOLE = (
    "[    1.2] some kernel line\r\n"
    "@@FXINIT:READY:3.10@@\r\n"
    "@@FX:abcd:BEGIN:first@@\r\n"
    "line one\r\nline two\r\n"
    "\r\n@@FX:abcd:STDERR:first@@\r\n"
    "a warning\r\n"
    "\r\n@@FX:abcd:END:first:0:3.20:3.90@@\r\n"
    "@@FX:abcd:BEGIN:second@@\r\n"
    "no newline at the end"
    "\r\n@@FX:abcd:STDERR:second@@\r\n"
    "\r\n@@FX:abcd:END:second:3:4.00:4.25@@\r\n"
    "@@FX:ffff:BEGIN:other-run@@\r\n\r\n@@FX:ffff:STDERR:other-run@@\r\n\r\n"
    "@@FX:ffff:END:other-run:0:1.0:1.0@@\r\n"
    "@@FX:abcd:BEGIN:unfinished@@\r\npartial"
)


def test_console_steps_are_read_between_markers() -> None:
    steps = parse_console(CONSOLE, "abcd")
    assert list(steps) == ["first", "second"]  # not another run's, not an unfinished one
    first, second = steps["first"], steps["second"]
    assert (first.exit_code, first.stdout, first.stderr) == (
        0,
        "line one\nline two\n",
        "a warning\n",
    )
    assert first.seconds == pytest.approx(0.7)
    assert (second.exit_code, second.stdout, second.stderr) == (3, "no newline at the end", "")


@pytest.mark.parametrize("name", ["", "-x", "two words", "a.b", "x/y"])
def test_step_names_are_file_and_event_safe(name: str) -> None:
    with pytest.raises(ValueError, match="step name"):
        Step(name, "true")


@pytest.mark.guest
def test_a_guest_reports_timeouts_vain_waits_and_exit_codes(guest_lab: GuestLab) -> None:
    xml = guest_lab.base_domain("harness")
    result = guest_lab.boot(
        xml,
        [
            Step("too-long", "echo started; sleep 60", timeout=2),
            Step("in-vain", "echo never", after="nobody.nothing", timeout=1),
            Step("fails", "printf out; echo err >&2; exit 7"),
            Step("product", 'echo "$PYTHONPATH"; famfs-xml nonsense'),
        ],
        timeout=240,
    )
    assert result.start_error is None, result.start_error
    assert result.finished, result.diagnosis()
    assert result.ready_seconds is not None and result.ready_seconds < result.seconds
    assert (result["too-long"].exit_code, result["too-long"].stdout) == (124, "started\n")
    assert result["in-vain"].exit_code == 124
    assert result["in-vain"].stdout == ""
    assert "waited 1 s for nobody.nothing in vain" in result["in-vain"].stderr
    fails = result["fails"]
    assert (fails.exit_code, fails.stdout, fails.stderr) == (7, "out", "err\n")
    # famfs-xml inside the guest is the checkout under test, and fails without a traceback
    product = result["product"]
    assert product.exit_code == 2, product
    assert product.stdout == f"{guest_lab.repo}\n"
    assert "Traceback" not in product.stderr


def run_forked_batch(tmp_path: Path, steps: list[Step], trace: tuple[str, ...] = ()) -> GuestResult:
    """Run guestrun.py on this host as a guest's run.sh does; its steps as a GuestResult."""
    run_dir, scratch, events, bin_dir = (tmp_path / n for n in ("run", "fx", "events", "bin"))
    for directory in (run_dir / "steps", events, bin_dir):
        directory.mkdir(parents=True)
    (events / "other.ready").write_text("0\n")
    for program in trace:
        write_tracer(bin_dir, program)
    write_steps(run_dir, steps)
    env = dict(
        os.environ,
        FX_RUN=str(run_dir),
        FX_EVENTS=str(events),
        FX_SCRATCH=str(scratch),
        PYTHONPATH=str(REPO),
        PATH=f"{bin_dir}:{os.environ['PATH']}",
    )
    done = subprocess.run(
        [sys.executable, str(GUESTRUN), str(run_dir / "steps.json"), "n0nce"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.endswith("@@FX:n0nce:DONE@@\n")
    result = GuestResult("host", parse_console(done.stdout, "n0nce"))
    assert list(result.steps) == [step.name for step in steps]
    return result


def test_the_forked_runner_reports_as_the_shell_runner_does(tmp_path: Path) -> None:
    result = run_forked_batch(
        tmp_path,
        [
            Step("shell", 'printf out; echo err >&2; echo " $FX_STEP"; exit 3'),
            Step.famfs_xml("product", "explain", "FH002"),
            Step.famfs_xml("usage", "nonsense"),
            Step.python("python", "import os, sys\nprint(os.environ['FX_STEP'])\nsys.exit(5)"),
            Step.python("crash", "raise RuntimeError('boom')"),
            Step.python(
                "too-long", "import time\nprint('started', flush=True)\ntime.sleep(60)", timeout=1
            ),
            Step("in-vain", "echo never", after="nobody.nothing", timeout=1),
            Step("waited", "echo after", after="other.ready", timeout=5),
        ],
    )
    shell = result["shell"]
    assert (shell.exit_code, shell.stdout, shell.stderr) == (3, "out shell\n", "err\n")
    product = result["product"]
    assert product.exit_code == 0 and product.stdout.startswith("FH002"), product
    usage = result["usage"]  # typer's usage error, as from the famfs-xml process
    assert usage.exit_code == 2 and "No such command 'nonsense'" in usage.stderr, usage
    assert "Traceback" not in usage.stderr
    assert (result["python"].exit_code, result["python"].stdout) == (5, "python\n")
    crash = result["crash"]
    assert crash.exit_code == 1 and "RuntimeError: boom" in crash.stderr, crash
    assert (result["too-long"].exit_code, result["too-long"].stdout) == (124, "started\n")
    assert result["in-vain"].exit_code == 124
    assert "waited 1 s for nobody.nothing in vain" in result["in-vain"].stderr
    assert (result["waited"].exit_code, result["waited"].stdout) == (0, "after\n")


def test_traced_programs_are_logged_with_their_step(tmp_path: Path) -> None:
    result = run_forked_batch(
        tmp_path,
        [
            Step("shell", "basename one 'two words'"),
            Step.python(
                "python", "import subprocess\nsubprocess.run(['basename', '3'], check=True)"
            ),
            Step("untraced", "/usr/bin/basename 4"),
            TOOL_CALLS,
        ],
        trace=("basename",),
    )
    assert result["shell"].stdout == "one\n"  # the real program ran
    calls = [["basename", "one", "two words"], ["basename", "3"]]
    assert result.tool_calls() == calls
    assert result.tool_calls("python") == calls[1:]
    assert result.tool_calls("untraced") == []
