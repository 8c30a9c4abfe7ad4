"""The operators' commands over the run store, as real processes: ps, status, log, list, stop, resume."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from typing import TYPE_CHECKING
from typing import Any

import pytest

from .test_chain_cli import WAIT
from .test_chain_cli import cli
from .test_chain_cli import sleeper_spec
from .test_chain_cli import start
from .test_chain_cli import wait_until

if TYPE_CHECKING:
    from pathlib import Path


def created(tmp_path: Path, script: str) -> Path:
    """A chain document, request id ``long``: first (noop) -> work (``sh -c script``) -> last (noop)."""
    document = tmp_path / "chain.json"
    assert cli("chain", "create", sleeper_spec(tmp_path, script), "-o", document).returncode == 0
    return document


def json_of(*args: str | Path) -> Any:
    proc = cli(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def running(tmp_path: Path) -> tuple[subprocess.Popen[str], Path]:
    """A chain run whose 'work' job runs until stopped (its first try; later ones complete at once)."""
    pidfile = tmp_path / "pid"
    script = f"if [ -e {pidfile} ]; then exit 0; fi; echo $$ > {pidfile}; exec sleep 600"
    proc = start("chain", "run", "--from", created(tmp_path, script))
    wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() != "", "the job's command starting")
    return proc, pidfile


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=WAIT)
    finally:
        proc.kill()
        proc.communicate()


class TestReading:
    def test_a_finished_run_in_list_status_and_log(self, tmp_path: Path) -> None:
        """A completed run: list shows it, status every job with tries and times, log each try's output."""
        run = cli("chain", "run", "--from", created(tmp_path, "echo working; echo oops >&2"))
        assert run.returncode == 0, run.stderr
        (listed,) = json_of("chain", "list")
        assert (listed["request_id"], listed["state"], listed["jobs_finished"]) == ("long", "COMPLETE", 3)
        assert (listed["host"], listed["pid"]) == (socket.gethostname(), listed["pid"])
        status = json_of("chain", "status", "long")
        assert isinstance(status, dict)
        assert [(j["job_id"], j["state"], j["tries"]) for j in status["jobs"]] == [
            ("first", "COMPLETE", 1),
            ("work", "COMPLETE", 1),
            ("last", "COMPLETE", 1),
        ]
        assert all(j["finished"] >= j["started"] for j in status["jobs"])
        (entry,) = json_of("chain", "log", "long", "work")
        assert (entry["stdout"], entry["stderr"], entry["state"]) == ("working\n", "oops\n", "COMPLETE")
        assert entry["format"].startswith("spincycle-jobs/log/1.")
        text = cli("chain", "log", "long").stdout
        assert "work try 1 (drive 1): COMPLETE, exit 0" in text
        assert "    working" in text
        table = cli("chain", "status", "long").stdout
        assert table.startswith("run long: COMPLETE, 3 of 3 jobs ended")
        assert cli("chain", "list").stdout.splitlines()[1].split()[:2] == ["long", "COMPLETE"]

    def test_a_failed_try_logs_its_error(self, tmp_path: Path) -> None:
        """A job that fails: the log entry has the exit code, the error and what the command printed."""
        run = cli("chain", "run", "--from", created(tmp_path, "echo bad >&2; exit 3"))
        assert run.returncode == 1
        (entry,) = json_of("chain", "log", "long", "work")
        assert (entry["state"], entry["exit"], entry["stderr"]) == ("FAIL", 3, "bad\n")
        assert json_of("chain", "list", "--state", "fail")[0]["request_id"] == "long"
        assert json_of("chain", "list", "--state", "COMPLETE") == []

    @pytest.mark.parametrize(
        "args",
        [("status", "nope"), ("log", "nope"), ("stop", "nope"), ("resume", "nope")],
    )
    def test_an_unknown_request_id_exits_2_with_one_line(self, args: tuple[str, ...]) -> None:
        proc = cli("chain", *args)
        assert proc.returncode == 2
        assert proc.stderr == "spincycle-jobs: error: no run 'nope' in the run store\n"

    def test_a_store_that_is_not_a_url_exits_2(self) -> None:
        proc = cli("chain", "ps", "--store", "mysql://user:hunter2@db/runs")
        assert proc.returncode == 2
        assert "hunter2" not in proc.stderr
        assert "expected sqlite:///PATH or postgresql://" in proc.stderr

    def test_list_pages_newest_first(self, tmp_path: Path) -> None:
        """Three runs: newest first; --limit 2 says there are more."""
        for n in range(3):
            spec = tmp_path / f"{n}.toml"
            spec.write_text(f'request_id = "r{n}"\n[[jobs]]\nid = "a"\ntype = "noop"\nname = "a"\n')
            document = tmp_path / f"{n}.json"
            assert cli("chain", "create", spec, "-o", document).returncode == 0
            assert cli("chain", "run", "--from", document).returncode == 0
        assert [r["request_id"] for r in json_of("chain", "list")] == ["r2", "r1", "r0"]
        text = cli("chain", "list", "--limit", "2").stdout
        assert "(2 of 3; --limit shows more)" in text


class TestLiveRuns:
    def test_ps_shows_the_running_job_and_stop_stops_the_run(self, tmp_path: Path) -> None:
        """ps from another process names the run and its running job; stop ends it STOPPED within 2 s."""
        proc, _ = running(tmp_path)
        try:
            (run,) = json_of("chain", "ps")
            assert (run["request_id"], run["state"], run["lost"], run["pid"]) == (
                "long",
                "RUNNING",
                False,
                proc.pid,
            )
            assert [(j["job_id"], j["tries"]) for j in run["jobs"]] == [("work", 1)]
            assert "long     RUNNING" in cli("chain", "ps").stdout
            stop = cli("chain", "stop", "long")
            assert stop.returncode == 0, stop.stderr
            asked = time.monotonic()
            _, err = proc.communicate(timeout=WAIT)
            assert time.monotonic() - asked < 2 + 1  # the 2 s of the contract, and a process exit
        finally:
            finish(proc)
        assert proc.returncode == 1, err
        assert json_of("chain", "status", "long")["state"] == "STOPPED"
        assert cli("chain", "stop", "long").returncode == 1  # no longer running

    def test_a_second_driver_is_refused_and_a_lost_run_resumes(self, tmp_path: Path) -> None:
        """resume of a live run exits 2 naming host and pid; after kill -9 it shows lost, and resumes."""
        proc, pidfile = running(tmp_path)
        try:
            busy = cli("chain", "resume", "long")
            assert busy.returncode == 2
            assert f"process {proc.pid} on host {socket.gethostname()!r}" in busy.stderr
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=WAIT)
        finally:
            finish(proc)
            os.kill(int(pidfile.read_text()), signal.SIGKILL)  # the command outlives a killed run
        (run,) = json_of("chain", "ps")
        assert run["lost"] is True
        assert "RUNNING (lost)" in cli("chain", "ps").stdout
        resumed = cli("chain", "resume", "long", "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert {j: v["tries"] for j, v in json.loads(resumed.stdout)["jobs"].items()} == {
            "first": 0,
            "work": 1,
            "last": 1,
        }
        log = json_of("chain", "log", "long", "work")
        assert [(e["drive"], e["state"]) for e in log] == [(1, "FAIL"), (2, "COMPLETE")]
        assert "was lost" in log[0]["error"]

    @pytest.mark.slow
    def test_two_resumes_at_once_exactly_one_drives(self, tmp_path: Path) -> None:
        """A failed run, resumed by two processes at once: one runs it on, the other exits 2."""
        marker = tmp_path / "ran"
        first = cli("chain", "run", "--from", created(tmp_path, f"echo x >> {marker}; sleep 3; exit 1"))
        assert first.returncode == 1
        procs = [start("chain", "resume", "long") for _ in range(2)]
        codes = sorted(p.wait(timeout=WAIT) for p in procs)
        for p in procs:
            finish(p)
        assert codes == [1, 2]  # one drove it (the job fails again), one was refused
        assert marker.read_text() == "x\nx\n"
        assert json_of("chain", "status", "long")["jobs"][1]["tries"] == 1


class TestSave:
    def test_a_document_in_use_is_locked(self, tmp_path: Path) -> None:
        """A second run saving to the same document is refused, naming the first's pid."""
        pidfile = tmp_path / "pid"
        document, saved = created(tmp_path, f"echo $$ > {pidfile}; exec sleep 600"), tmp_path / "saved.json"
        proc = start("chain", "run", "--from", document, "--save", saved, "--no-store")
        try:
            wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() != "", "the first run")
            second = cli("chain", "run", "--from", document, "--save", saved, "--no-store")
            assert second.returncode == 2
            assert f"chain document {str(saved)!r} is in use: process {proc.pid} on host" in second.stderr
            proc.send_signal(signal.SIGINT)
            finish(proc)
        finally:
            finish(proc)


@pytest.mark.parametrize("where", ["/dev/full", "/proc/runs.sqlite3", "/dev/null/runs.sqlite3"])
def test_a_store_that_cannot_be_written_stops_chain_run_before_any_job(tmp_path: Path, where: str) -> None:
    marker = tmp_path / "ran"
    proc = cli(
        "chain", "run", "--from", created(tmp_path, f"touch {marker}"), "--store", f"sqlite:///{where}"
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("spincycle-jobs: error: run store ")
    assert proc.stderr.count("\n") == 1
    assert not marker.exists()


def test_a_full_small_filesystem_stops_chain_run_before_any_job(tmp_path: Path) -> None:
    """A store on a real file system with no space left: a clear error, and no job starts."""
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", small],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.decode().strip()}")
    try:
        with contextlib.suppress(OSError), (small / "filler").open("wb", buffering=0) as filler:
            while True:  # until ENOSPC
                filler.write(b"\0" * 4096)
        marker = tmp_path / "ran"
        proc = cli(
            "chain",
            "run",
            "--from",
            created(tmp_path, f"touch {marker}"),
            "--store",
            f"sqlite:///{small}/r.db",
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("spincycle-jobs: error: run store ")
        assert proc.stderr.count("\n") == 1
        assert not marker.exists()
    finally:
        subprocess.run(["umount", small], check=True)
