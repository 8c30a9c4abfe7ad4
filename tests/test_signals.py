"""Real signals to a real ``spincycle-jobs run``: nothing of the job is ever left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from .conftest import clean_env
from .conftest import live_processes

if TYPE_CHECKING:
    from pathlib import Path

pytest.importorskip("spincycle_jobs_example", reason="the README's test command installs the example plugin")

#: Runs of each signal case in the slow test.
TIMES = 20
#: ``python -m spincycle_jobs ARGS`` with SIGHUP's default action, as from a terminal, even when the
#: tests run under ``nohup`` (an ignored signal stays ignored across exec, and the command keeps it so).
AS_FROM_A_TERMINAL = (
    "import runpy, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_DFL); "
    "sys.argv[0] = 'spincycle-jobs'; runpy.run_module('spincycle_jobs', run_name='__main__')"
)


def processes_with(marker: str) -> list[str]:
    """Command lines of live processes that take ``<n>.<marker>``: the job's, not the command line's own."""
    return [cmd for _, cmd, _ in live_processes() if f".{marker} " in cmd and "spincycle_jobs" not in cmd]


def start_job(marker: str) -> subprocess.Popen[str]:
    """Start ``run shell-command`` of a shell with two sleeps, and wait until all three run."""
    script = f"sleep 1000.{marker} & sleep 2000.{marker}; wait"
    args = ["-a", "cmd=sh", "-a", f"args:={json.dumps(['-c', script])}"]
    proc = subprocess.Popen(
        [sys.executable, "-c", AS_FROM_A_TERMINAL, "run", "shell-command", "long", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    deadline = time.monotonic() + 60
    while len(processes_with(marker)) < 3:  # sh and both sleeps
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    return proc


def signal_run(signums: tuple[signal.Signals, ...], marker: str) -> tuple[int, str, list[str]]:
    """Run a job, send it ``signums`` back to back; return the exit code, stderr and what is left."""
    proc = start_job(marker)
    try:
        for signum in signums:
            proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    deadline = time.monotonic() + 10  # the kernel reaps the killed sleeps' zombies in its own time
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc.returncode, err, processes_with(marker)


CASES = [
    ((signal.SIGTERM,), 128 + signal.SIGTERM, "SIGTERM: stopping shell-command long"),
    ((signal.SIGHUP,), 128 + signal.SIGHUP, "SIGHUP: stopping shell-command long"),
    ((signal.SIGINT, signal.SIGINT), 128 + signal.SIGINT, "SIGINT: stopping shell-command long"),
]
IDS = ["sigterm", "sighup", "double-sigint"]


def marker() -> str:
    """Digits unique to this run: ``sleep`` takes ``1000.<marker>`` as a number."""
    return f"{os.getpid()}{time.monotonic_ns() % 10**9:09d}"


@pytest.mark.parametrize(("signums", "code", "message"), CASES, ids=IDS)
def test_signal_stops_the_job(signums: tuple[signal.Signals, ...], code: int, message: str) -> None:
    """SIGTERM, SIGHUP or a fast double Ctrl-C stop the job: exit 128 + signal, nothing left behind."""
    exit_code, err, left = signal_run(signums, marker())
    assert exit_code == code, err
    assert message in err
    assert left == []


@pytest.mark.slow
@pytest.mark.parametrize(("signums", "code", "message"), CASES, ids=IDS)
def test_signal_stops_the_job_every_time(
    signums: tuple[signal.Signals, ...], code: int, message: str
) -> None:
    """The same, 20 times, several at once: never a process of the job left, never another exit code."""
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: signal_run(signums, f"{marker()}{i:03d}"), range(TIMES)))
    assert [(c, left) for c, _, left in results] == [(code, [])] * TIMES, [e for _, e, _ in results]


PID_REUSE = """\
import json, os, subprocess
from spincycle_jobs import Factory

job = Factory().make("shell-command", "late")
job.create({"cmd": "true"})
assert job.run({}).exit == 0
pid = job._proc.pid
with open("/proc/sys/kernel/ns_last_pid", "w") as f:  # the next process gets the command's old pid
    f.write(str(pid - 1))
victim = subprocess.Popen(["sleep", "60"], start_new_session=True)  # and leads a group, as its pid says
job.stop()
try:
    victim.wait(timeout=2)
except subprocess.TimeoutExpired:
    pass
print(json.dumps({"pid": pid, "victim": victim.pid, "alive": victim.poll() is None}))
victim.kill()
"""


def test_late_stop_after_pid_reuse_kills_nothing(tmp_path: Path) -> None:
    """A stop after the command ended does not signal the process that now has its pid."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        pytest.skip("needs root and unshare(1) for a private pid namespace, to reuse a pid at will")
    script = tmp_path / "reuse.py"
    script.write_text(textwrap.dedent(PID_REUSE))
    proc = subprocess.run(
        [unshare, "--pid", "--fork", "--mount-proc", sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=clean_env(),
    )
    if proc.returncode and "unshare failed" in proc.stderr:
        pytest.skip(f"no private pid namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["victim"] == out["pid"]  # the pid was reused
    assert out["alive"] is True
