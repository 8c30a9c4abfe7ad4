"""The command line, driven as a user would: in a subprocess, with the example plugin installed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from spincycle_jobs._document import dump_document

from .conftest import clean_env
from .conftest import live_processes
from .conftest import stderr_on_a_terminal

pytest.importorskip("spincycle_jobs_example", reason="the README's test command installs the example plugin")


def cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spincycle_jobs", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env or clean_env(),
    )


def rehash(doc: dict[str, Any]) -> str:
    """Return ``doc`` as text with its sha256 made to match again, as a forger would."""
    body = {k: v for k, v in doc.items() if k != "sha256"}
    return dump_document(body.pop("format"), body)


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "spincycle_jobs", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


def wait_for_worker(proc: subprocess.Popen[str]) -> None:
    """Wait until the command line runs the job in its worker thread: its Ctrl-C handler is set by then."""
    deadline = time.monotonic() + 30
    while "Threads:\t1\n" in Path(f"/proc/{proc.pid}/status").read_text():
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)


def processes_with(marker: str) -> list[str]:
    """Command lines of live processes that mention marker: the job's, not the command line's own."""
    return [
        cmd
        for _, cmd, _ in live_processes()
        if marker in cmd and "pytest" not in cmd and "spincycle_jobs" not in cmd
    ]


class TestRun:
    def test_hello_world(self) -> None:
        """run shell-command prints the command's output and exits 0."""
        proc = cli("run", "shell-command", "hello", "-a", "cmd=echo", "-a", "args=hello world")
        assert proc.stdout == "hello world\n"
        assert proc.returncode == 0
        assert "COMPLETE" in proc.stderr

    def test_typed_args_and_json(self) -> None:
        """KEY:=JSON passes a typed value; --json prints the result as JSON."""
        proc = cli("run", "shell-command", "ls", "-a", "cmd=ls", "-a", 'args:=["-d", "/"]', "--json")
        out = json.loads(proc.stdout)
        assert out["state"] == "COMPLETE"
        assert out["returns"][0]["stdout"] == "/\n"

    def test_exit_codes(self) -> None:
        """The exit code is the job's exit code when non-zero, else 1 for a state that is not COMPLETE."""
        assert (
            cli("run", "shell-command", "f", "-a", "cmd=sh", "-a", 'args:=["-c", "exit 7"]').returncode == 7
        )
        timeout = cli("run", "sleep", "t", "-a", "duration:=5", "--timeout", "0.2")
        assert timeout.returncode == 1
        assert "TIMEOUT" in timeout.stderr

    def test_retries(self) -> None:
        """--retries gives a failing job more tries."""
        proc = cli("run", "shell-command", "f", "-a", "cmd=false", "--retries", "2", "--json")
        assert json.loads(proc.stdout)["tries"] == 3

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["run", "slep", "x"], "unknown job type 'slep'; did you mean 'sleep'?"),
            (
                ["run", "sleep", "x", "-a", "duration"],
                "malformed -a 'duration': expected KEY=VALUE or KEY:=JSON",
            ),
            (["run", "sleep", "x", "-a", "duration:={"], "the value after := is not JSON"),
            (["run", "sleep", "x"], "duration not set in job args"),
            (
                ["run", "sleep", "x", "-a", "duration=soon"],
                "duration in job args is type str, expected type float",
            ),
            (["run", "--from", "/no/such/file"], "cannot read job document '/no/such/file'"),
            (["show", "nothing"], "unknown job type 'nothing'"),
            (["frobnicate"], "invalid choice: 'frobnicate'"),
        ],
        ids=[
            "unknown-type",
            "malformed-arg",
            "bad-json",
            "missing-arg",
            "wrong-type",
            "no-file",
            "show",
            "command",
        ],
    )
    def test_bad_input_one_line_exit_2(self, args: list[str], message: str) -> None:
        """Bad input gets one line on stderr saying what is wrong, exit code 2, no traceback."""
        proc = cli(*args)
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1
        assert proc.stderr.startswith("spincycle-jobs: error: ")
        assert message in proc.stderr
        assert "Traceback" not in proc.stderr

    def test_debug_shows_traceback(self) -> None:
        """--debug shows the traceback."""
        proc = cli("run", "slep", "x", "--debug")
        assert proc.returncode == 2
        assert "Traceback" in proc.stderr


class TestDocuments:
    def test_create_then_run_across_a_pipe(self) -> None:
        """create writes a job document; run --from - runs it in another process."""
        created = cli("create", "shell-command", "hi", "-a", "cmd=echo", "-a", "args=across a pipe")
        doc = json.loads(created.stdout)
        assert doc["type"] == "shell-command"
        assert doc["job_args"] == {"cmd": "echo", "args": "across a pipe"}
        assert (doc["distribution"], doc["version"]) == ("spincycle-jobs-example", "0.1.0")
        ran = cli("run", "--from", "-", stdin=created.stdout)
        assert ran.stdout == "across a pipe\n"
        assert ran.returncode == 0

    def test_create_only_job_changes_args(self, tmp_path: Path) -> None:
        """create records the job args after create, so a create-only job's additions are kept."""
        out = tmp_path / "doc.json"
        proc = cli("create", "set-args", "defaults", "-a", 'set:={"port": 8080}', "-o", str(out))
        assert proc.returncode == 0
        assert json.loads(out.read_text())["job_args"] == {"set": {"port": 8080}, "port": 8080}
        assert cli("run", "--from", str(out)).stdout == "set port\n"

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (lambda d: d.update(data="AAAA"), "does not match its sha256: the document was changed"),
            (lambda d: d.update(job_args={"duration": 9}), "does not match its sha256"),
            (lambda d: d.pop("sha256"), "has no sha256"),
            (
                lambda d: d.update(format="x/1"),
                "not a job document (format 'x/1', expected spincycle-jobs/job/1)",
            ),
        ],
        ids=["tampered-data", "tampered-args", "no-hash", "foreign"],
    )
    def test_changed_documents_refused(self, change: Any, message: str) -> None:
        """A document changed anywhere, or of another format, is refused with one line and exit code 2."""
        doc = json.loads(cli("create", "sleep", "nap", "-a", "duration:=0").stdout)
        change(doc)
        proc = cli("run", "--from", "-", stdin=json.dumps(doc))
        assert proc.returncode == 2
        assert message in proc.stderr
        assert proc.stderr.count("\n") == 1

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            (lambda d: d.update(data="!!"), "field 'data' is not base64"),
            (lambda d: d.update(data="AAAA\u00e9"), "field 'data' is not base64"),
            (lambda d: d.pop("type"), "field 'type' is missing"),
            (lambda d: d.update(distribution="evil-jobs"), "was created by distribution 'evil-jobs'"),
        ],
        ids=["not-base64", "non-ascii-base64", "missing-field", "other-distribution"],
    )
    def test_bad_documents_refused(self, change: Any, message: str) -> None:
        """A well-hashed document with a bad or foreign record is refused with one line and exit code 2."""
        doc = json.loads(cli("create", "sleep", "nap", "-a", "duration:=0").stdout)
        change(doc)
        proc = cli("run", "--from", "-", stdin=rehash(doc))
        assert proc.returncode == 2
        assert message in proc.stderr
        assert proc.stderr.count("\n") == 1

    def test_other_version_warns(self) -> None:
        """A document from another version of the plugin runs, with a warning."""
        doc = json.loads(cli("create", "sleep", "nap", "-a", "duration:=0").stdout)
        doc["version"] = "0.0.1"
        proc = cli("run", "--from", "-", stdin=rehash(doc))
        assert proc.returncode == 0
        assert "warning: job document '-' was created with spincycle-jobs-example 0.0.1" in proc.stderr


class TestInterrupt:
    def test_sigint_stops_sleep(self) -> None:
        """Ctrl-C (SIGINT) stops a running sleep promptly, with state STOPPED."""
        proc = start("run", "sleep", "nap", "-a", "duration:=30")
        try:
            time.sleep(1)
            wait_for_worker(proc)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=10)
        finally:
            proc.kill()
            proc.communicate()
        assert "sleep nap: STOPPED" in err
        assert proc.returncode == 128 + signal.SIGINT

    def test_sigint_stops_shell_command_and_its_children(self) -> None:
        """Ctrl-C stops a shell-command's process and everything it started: nothing is left behind."""
        marker = f"{os.getpid()}{time.monotonic_ns() % 10**6}"  # digits: sleep takes 1000.<marker>
        script = f"sleep 1000.{marker} & sleep 2000.{marker}; wait"
        proc = start(
            "run", "shell-command", "long", "-a", "cmd=sh", "-a", f"args:={json.dumps(['-c', script])}"
        )
        try:
            deadline = time.monotonic() + 10
            while len(processes_with(marker)) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(processes_with(marker)) == 3  # sh and both sleeps
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=10)
        finally:
            proc.kill()
            proc.communicate()
        assert "shell-command long: STOPPED" in err
        assert proc.returncode == 128 + signal.SIGINT
        time.sleep(0.2)
        assert processes_with(marker) == []


def test_live_status_on_a_terminal() -> None:
    """On a terminal, run shows the job's live status while it runs."""
    seen = stderr_on_a_terminal(["run", "sleep", "nap", "-a", "duration:=1.5"], b"s left of 1.5s")
    assert b"sleep nap (try 1): " in seen


def test_second_sigint_gives_up_and_leaves_nothing() -> None:
    """A second Ctrl-C gives up; a command that ignores SIGTERM is still killed, not left behind."""
    marker = f"{os.getpid()}{time.monotonic_ns() % 10**6}"
    script = f"trap '' TERM; while true; do sleep 3000.{marker}; done"
    proc = start(
        "run", "shell-command", "stubborn", "-a", "cmd=sh", "-a", f"args:={json.dumps(['-c', script])}"
    )
    try:
        deadline = time.monotonic() + 10
        while not processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 130
    assert "giving up" in err
    assert processes_with(marker) == []


class TestListing:
    def test_list(self) -> None:
        """list shows each type with plugin, distribution and version."""
        proc = cli("list")
        assert proc.returncode == 0
        line = next(x for x in proc.stdout.splitlines() if x.startswith("sleep "))
        assert line.split() == ["sleep", "example", "spincycle-jobs-example", "0.1.0"]

    def test_list_says_if_index_was_used(self) -> None:
        """list says whether the persisted index was used: not on a cold start, then yes."""
        env = clean_env(SPINCYCLE_JOBS_CACHE_DIR=str(Path(os.environ["SPINCYCLE_JOBS_CACHE_DIR"]) / "cli"))
        assert "index: not used" in cli("list", env=env).stdout
        assert "index: used" in cli("list", env=env).stdout
        assert json.loads(cli("list", "--json", env=env).stdout)["index_used"] is True

    def test_list_json(self) -> None:
        """list --json gives the same as records."""
        out = json.loads(cli("list", "--json").stdout)
        sleep = next(t for t in out["types"] if t["type"] == "sleep")
        assert sleep == {
            "type": "sleep",
            "plugin": "example",
            "distribution": "spincycle-jobs-example",
            "version": "0.1.0",
            "target": "spincycle_jobs_example.sleep:Sleep",
        }

    def test_show(self) -> None:
        """show describes a type, with its documentation."""
        proc = cli("show", "shell-command")
        assert "target: spincycle_jobs_example.shell:ShellCommand" in proc.stdout
        assert "non-zero exit is ``FAIL``" in proc.stdout

    def test_doctor_json(self) -> None:
        """doctor lists each plugin with its load time, and exits 0 when nothing is wrong."""
        proc = cli("doctor", "--json")
        out = json.loads(proc.stdout)
        example = next(p for p in out["plugins"] if p["name"] == "example")
        assert example["error"] is None
        assert example["load_ms"] >= 0
