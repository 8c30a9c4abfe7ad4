"""``spincycle-jobs chain create | run | show``: real processes and signals, the example plugin."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

from spincycle_jobs import Chain
from spincycle_jobs import State
from spincycle_jobs._cli._chain import draw

from .conftest import clean_env
from .conftest import stderr_on_a_terminal
from .conftest import write_project

if TYPE_CHECKING:
    from collections.abc import Callable

pytest.importorskip("spincycle_jobs_example", reason="the README's test command installs the example plugin")

WAIT = 60.0

SPEC = """\
request_id = "deploy-42"

[args]
duration = 0
cmd = "sh"
args = ["-c", "echo built"]

[[jobs]]
id = "fetch"
type = "noop"
name = "fetch sources"

[[jobs]]
id = "build-a"
type = "sleep"
name = "build a"
after = ["fetch"]

[[jobs]]
id = "build-b"
type = "shell-command"
name = "build b"
after = ["fetch"]
retry = 2
retry_wait = 0.1

[[jobs]]
id = "publish"
type = "noop"
name = "publish"
after = ["build-a", "build-b"]
"""


def cli(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spincycle_jobs", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
        env=clean_env(),
    )


def start(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "spincycle_jobs", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.02)


def saved_states(path: Path) -> dict[str, State]:
    """The job states a --save file records; empty while it is missing or being replaced."""
    try:
        chain = Chain.from_json(path.read_text())
    except (OSError, ValueError):
        return {}
    return {job_id: job.state for job_id, job in chain.jobs.items()}


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    return path


class TestCreate:
    def test_a_spec_becomes_a_chain_document(self, spec: Path, tmp_path: Path) -> None:
        """The TOML spec's jobs, in order, created by the installed example plugin; -a overrides [args]."""
        proc = cli("chain", "create", spec, "-a", "duration:=0.5", "-o", tmp_path / "chain.json")
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
        chain = Chain.from_json((tmp_path / "chain.json").read_text())
        assert chain.request_id == "deploy-42"
        assert list(chain.jobs) == ["fetch", "build-a", "build-b", "publish"]
        assert chain.jobs["build-a"].record.job_args["duration"] == 0.5
        assert chain.jobs["build-b"].retry == 2
        assert chain.jobs["build-b"].retry_wait == 0.1
        assert chain.jobs["publish"].after == ("build-a", "build-b")
        assert chain.jobs["fetch"].record.distribution == "spincycle-jobs-example"

    def test_request_id_gives_the_chain_another_id(self, spec: Path, tmp_path: Path) -> None:
        """A spec is a template: --request-id gives each chain built from it an id of its own."""
        proc = cli("chain", "create", spec, "--request-id", "release-7")
        assert proc.returncode == 0, proc.stderr
        assert Chain.from_json(proc.stdout).request_id == "release-7"
        (tmp_path / "no-id.toml").write_text("[[jobs]]\nid='a'\ntype='noop'\nname='a'\n")
        proc = cli("chain", "create", tmp_path / "no-id.toml", "--request-id", "r-1")
        assert proc.returncode == 0, proc.stderr
        assert Chain.from_json(proc.stdout).request_id == "r-1"
        proc = cli("chain", "create", spec, "--request-id", "")
        assert proc.returncode == 2
        assert "--request-id must be a non-empty string" in proc.stderr

    def test_without_o_the_document_goes_to_stdout(self, spec: Path) -> None:
        """The document on stdout reads back as the same chain."""
        proc = cli("chain", "create", spec)
        assert proc.returncode == 0
        assert list(Chain.from_json(proc.stdout).jobs) == ["fetch", "build-a", "build-b", "publish"]

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("request_id = ", "is not TOML: "),
            ("[[jobs]]\nid='a'\ntype='noop'\nname='a'\n", "request_id must be a non-empty string"),
            ("request_id='r'\n", "no [[jobs]]: a chain needs at least one job"),
            ("request_id='r'\nargs=3\n[[jobs]]\nid='a'\ntype='noop'\nname='a'\n", "args must be a table"),
            (
                "request_id='r'\nextra=1\n[[jobs]]\nid='a'\ntype='noop'\nname='a'\n",
                "unknown top-level key 'extra'",
            ),
            ("request_id='r'\n[[jobs]]\nid='a'\ntype='noop'\n", "job #1 ('a'): name is missing"),
            (
                "request_id='r'\n[[jobs]]\nid='a'\ntype='noop'\nname='a'\nwhen=1\n",
                "job #1 ('a'): unknown key 'when'",
            ),
            (
                "request_id='r'\n[[jobs]]\nid='a'\ntype='noop'\nname='a'\nretry='2'\n",
                "retry must be int, got str",
            ),
            (
                "request_id='r'\n[[jobs]]\nid='a'\ntype='noop'\nname='a'\nafter=[1]\n",
                "after must be a list of job",
            ),
            ("request_id='r'\n[[jobs]]\nid='a'\ntype='noop'\nname='a'\nafter=['a']\n", "cycle: 'a' -> 'a'"),
            (
                "request_id='r'\n[[jobs]]\nid='a'\ntype='noop'\nname='a'\nafter=['z']\n",
                "runs after 'z', which",
            ),
            (
                "request_id='r'\n[[jobs]]\nid='a'\ntype='nope'\nname='a'\n",
                "job 'a' (nope 'a') cannot be built: Unk",
            ),
            (
                "request_id='r'\n[[jobs]]\nid='a'\ntype='sleep'\nname='a'\n",
                "ArgNotSetError: duration not set",
            ),
        ],
        ids=[
            "not toml",
            "no request id",
            "no jobs",
            "args not a table",
            "unknown key",
            "no name",
            "unknown job key",
            "retry a string",
            "after not ids",
            "cycle",
            "unknown after",
            "unknown type",
            "create fails",
        ],
    )
    def test_bad_specs_exit_2_with_one_line(self, tmp_path: Path, text: str, message: str) -> None:
        """Any error: exit 2, one line on stderr naming what was wrong, nothing on stdout, no document."""
        spec = tmp_path / "spec.toml"
        spec.write_text(text)
        proc = cli("chain", "create", spec, "-o", tmp_path / "chain.json")
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1
        assert message in proc.stderr
        assert proc.stderr.startswith("spincycle-jobs: error: ")
        assert not (tmp_path / "chain.json").exists()

    def test_a_missing_spec_exits_2(self, tmp_path: Path) -> None:
        """A spec that cannot be read: exit 2, one line."""
        proc = cli("chain", "create", tmp_path / "nope.toml")
        assert proc.returncode == 2
        assert "cannot read request spec" in proc.stderr
        assert proc.stderr.count("\n") == 1


class TestRun:
    def test_create_run_and_show(self, spec: Path, tmp_path: Path) -> None:
        """The whole way: create, run (exit 0, the drawing), show the saved document with its states."""
        chain, saved = tmp_path / "chain.json", tmp_path / "saved.json"
        assert cli("chain", "create", spec, "-o", chain).returncode == 0
        proc = cli("chain", "run", "--from", chain, "--save", saved)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == "chain deploy-42: COMPLETE\n"
        assert "✔ publish" in proc.stdout or "ok publish" in proc.stdout
        assert set(saved_states(saved).values()) == {State.COMPLETE}
        shown = cli("chain", "show", saved)
        assert shown.returncode == 0
        assert "4 jobs in 3 layers (4 COMPLETE)" in shown.stdout

    def test_json_reports_every_job_and_the_job_data(self, spec: Path) -> None:
        """--json: the chain's state, every job's state, tries and returns, and the final job data."""
        document = cli("chain", "create", spec).stdout
        proc = cli("chain", "run", "--from", "-", "--json", "-d", "env=prod", stdin=document)
        assert proc.returncode == 0, proc.stderr
        report = json.loads(proc.stdout)
        assert report["state"] == "COMPLETE"
        assert report["job_data"] == {"env": "prod"}
        assert report["jobs"]["build-b"]["returns"][0]["stdout"] == "built\n"
        assert {j: (v["state"], v["tries"]) for j, v in report["jobs"].items()} == {
            "fetch": ("COMPLETE", 1),
            "build-a": ("COMPLETE", 1),
            "build-b": ("COMPLETE", 1),
            "publish": ("COMPLETE", 1),
        }

    def test_a_failed_chain_exits_1(self, spec: Path) -> None:
        """build-b fails all 3 tries: exit 1, publish never starts, fetch and build-a complete."""
        document = cli("chain", "create", spec, "-a", 'args:=["-c", "exit 3"]').stdout
        proc = cli("chain", "run", "--from", "-", "--json", stdin=document)
        assert proc.returncode == 1
        report = json.loads(proc.stdout)
        assert report["state"] == "FAIL"
        assert (report["jobs"]["build-b"]["state"], report["jobs"]["build-b"]["tries"]) == ("FAIL", 3)
        assert [r["exit"] for r in report["jobs"]["build-b"]["returns"]] == [3, 3, 3]
        assert (report["jobs"]["publish"]["state"], report["jobs"]["publish"]["tries"]) == ("PENDING", 0)
        assert report["jobs"]["build-a"]["state"] == "COMPLETE"

    @pytest.mark.parametrize(
        ("change", "extra", "message"),
        [
            (lambda text: text.replace('"noop"', '"sleep"'), [], "does not match its sha256"),
            (lambda text: text[:100], [], "is not JSON"),
            (lambda text: "{}", [], "not a chain document (format None, expected spincycle-jobs/chain/1)"),
            (lambda text: text, ["--executor", "dask"], "--executor dask needs --scheduler ADDRESS"),
            (lambda text: text, ["--scheduler", "tcp://x:1"], "--scheduler is for an executor that hands"),
            (lambda text: text, ["--save", "/nonexistent/dir/saved.json"], "No such file or directory"),
        ],
        ids=[
            "tampered",
            "truncated",
            "foreign",
            "dask without scheduler",
            "scheduler without dask",
            "bad save",
        ],
    )
    def test_bad_input_exits_2_with_one_line(
        self, spec: Path, change: Callable[[str], str], extra: list[str], message: str
    ) -> None:
        """A tampered, truncated or foreign document, or bad options: exit 2, one line, nothing run."""
        document = change(cli("chain", "create", spec).stdout)
        proc = cli("chain", "run", "--from", "-", *extra, stdin=document)
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr
        assert proc.stderr.count("\n") == 1
        assert proc.stdout == ""

    def test_a_missing_document_exits_2(self, tmp_path: Path) -> None:
        """run --from a file that is not there: exit 2, one line."""
        proc = cli("chain", "run", "--from", tmp_path / "nope.json")
        assert proc.returncode == 2
        assert proc.stderr.count("\n") == 1


def sleeper_spec(tmp_path: Path, script: str) -> Path:
    """first (noop) -> work (shell-command running ``script``) -> last (noop)."""
    spec = tmp_path / "spec.toml"
    spec.write_text(
        textwrap.dedent(f"""\
        request_id = "long"
        [args]
        cmd = "sh"
        args = ["-c", {json.dumps(script)}]
        [[jobs]]
        id = "first"
        type = "noop"
        name = "first"
        [[jobs]]
        id = "work"
        type = "shell-command"
        name = "work"
        after = ["first"]
        [[jobs]]
        id = "last"
        type = "noop"
        name = "last"
        after = ["work"]
        """)
    )
    return spec


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class TestSignals:
    def test_ctrl_c_stops_the_chain(self, tmp_path: Path) -> None:
        """A real SIGINT: the running job stops, the next never starts, exit 130; the document says so."""
        pidfile = tmp_path / "pid"
        spec = sleeper_spec(tmp_path, f"echo $$ > {pidfile}; exec sleep 600")
        chain, saved = tmp_path / "chain.json", tmp_path / "saved.json"
        assert cli("chain", "create", spec, "-o", chain).returncode == 0
        proc = start("chain", "run", "--from", chain, "--save", saved, "--json")
        try:
            wait_until(
                lambda: pidfile.exists() and pidfile.read_text().strip() != "", "the job's command starting"
            )
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=WAIT)
        finally:
            proc.kill()
            proc.communicate()
        assert proc.returncode == 128 + signal.SIGINT, err
        assert "SIGINT: stopping chain long" in err
        report = json.loads(out)
        assert report["state"] == "STOPPED"
        assert [report["jobs"][j]["state"] for j in ("first", "work", "last")] == [
            "COMPLETE",
            "STOPPED",
            "PENDING",
        ]
        assert saved_states(saved) == {"first": State.COMPLETE, "work": State.STOPPED, "last": State.PENDING}
        wait_until(lambda: not alive(int(pidfile.read_text())), "the stopped command exiting")

    @pytest.mark.parametrize("source", ["document", "store"])
    def test_a_killed_run_resumes(self, tmp_path: Path, source: str) -> None:
        """kill -9 mid-job: the document and the store record what ended; resumed, only the rest runs."""
        pidfile, log = tmp_path / "pid", tmp_path / "log"
        script = (
            f"echo run >> {log}; if [ -e {pidfile} ]; then exit 0; fi; echo $$ > {pidfile}; exec sleep 600"
        )
        spec = sleeper_spec(tmp_path, script)
        chain, saved = tmp_path / "chain.json", tmp_path / "saved.json"
        assert cli("chain", "create", spec, "-o", chain).returncode == 0
        proc = start("chain", "run", "--from", chain, "--save", saved)
        try:
            wait_until(
                lambda: pidfile.exists() and pidfile.read_text().strip() != "", "the job's command starting"
            )
            wait_until(lambda: saved_states(saved).get("first") == State.COMPLETE, "the document saved")
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=WAIT)
        finally:
            proc.kill()
            proc.communicate()
            if pidfile.exists() and pidfile.read_text().strip():
                os.kill(int(pidfile.read_text()), signal.SIGKILL)  # the command outlives a killed run
        assert saved_states(saved)["last"] == State.PENDING
        if source == "document":
            again = cli("chain", "run", "--from", saved, "--json")
            assert again.returncode == 2
            assert "chain resume long" in again.stderr  # the store holds the run
            resumed = cli("chain", "run", "--from", saved, "--save", saved, "--json", "--no-store")
        else:
            resumed = cli("chain", "resume", "long", "--save", saved, "--json")
        assert resumed.returncode == 0, resumed.stderr
        report = json.loads(resumed.stdout)
        assert {j: (v["state"], v["tries"]) for j, v in report["jobs"].items()} == {
            "first": ("COMPLETE", 0),
            "work": ("COMPLETE", 1),
            "last": ("COMPLETE", 1),
        }
        assert log.read_text().split() == ["run", "run"]
        assert set(saved_states(saved).values()) == {State.COMPLETE}


class TestShow:
    def test_the_drawing_shows_layers_fan_out_fan_in_and_states(self, spec: Path, tmp_path: Path) -> None:
        """Layers in order, parallel jobs as branches, each state and after-jobs, errors under failures."""
        document = cli("chain", "create", spec, "-a", 'args:=["-c", "echo no >&2; exit 3"]').stdout
        (tmp_path / "chain.json").write_text(document)
        run = cli("chain", "run", "--from", tmp_path / "chain.json", "--save", tmp_path / "saved.json")
        assert run.returncode == 1
        text = draw(Chain.from_json((tmp_path / "saved.json").read_text()), unicode=True)
        assert text.splitlines()[0] == "chain deploy-42: 4 jobs in 3 layers (2 COMPLETE, 1 FAIL, 1 PENDING)"
        assert "  1    ✔ fetch    COMPLETE  1 try        noop 'fetch sources'" in text
        assert "  2  ├─✔ build-a  COMPLETE  1 try        sleep 'build a'          ◀ fetch" in text
        assert "     └─✘ build-b  FAIL      3 tries      shell-command 'build b'  ◀ fetch" in text
        assert "JobError: sh exited 3" in text
        assert "  3    ○ publish  PENDING                noop 'publish'           ◀ build-a, build-b" in text
        ascii_only = draw(Chain.from_json(document), unicode=False)
        assert ascii_only.isascii()
        assert "+-.. build-a" in ascii_only
        again = cli("chain", "run", "--from", tmp_path / "saved.json", "--no-store")  # a resumed run
        assert "  1    ✔ fetch    COMPLETE  done before  noop 'fetch sources'" in again.stdout
        assert "     └─✘ build-b  FAIL      3 tries      shell-command 'build b'  ◀ fetch" in again.stdout

    def test_dot_and_json(self, spec: Path, tmp_path: Path) -> None:
        """--dot writes a Graphviz digraph with an edge per after; --json the jobs with their layers."""
        (tmp_path / "chain.json").write_text(cli("chain", "create", spec).stdout)
        dot = cli("chain", "show", tmp_path / "chain.json", "--dot")
        assert dot.returncode == 0
        assert dot.stdout.startswith('digraph "deploy-42" {\n')
        assert '  "build-a" -> "publish";\n' in dot.stdout
        assert '"fetch" [label="fetch\\nnoop \'fetch sources\'\\nPENDING", fillcolor=white];' in dot.stdout
        shown = json.loads(cli("chain", "show", tmp_path / "chain.json", "--json").stdout)
        assert [(j["id"], j["layer"], j["state"]) for j in shown["jobs"]] == [
            ("fetch", 1, "PENDING"),
            ("build-a", 2, "PENDING"),
            ("build-b", 2, "PENDING"),
            ("publish", 3, "PENDING"),
        ]


PUT_PLUGIN = {
    "plugin.py": """\
        from spincycle_jobs import hookimpl

        @hookimpl
        def spincycle_jobs_job_types():
            return {"put": "put_jobs.put:Put"}
        """,
    "put.py": """\
        import attrs
        from spincycle_jobs import BaseJob, Return, State, open_store

        @attrs.define
        class Put(BaseJob):
            conf: dict = attrs.Factory(dict)

            def create(self, job_args):
                self.conf = job_args.get("put", {}).get(self.name(), {})

            def run(self, job_data):
                # ["REQUEST", "JOB"]: wait until the run store records that job ended
                request_id, job_id = self.conf.get("after_ended", [None, None])
                while request_id and not self._ended(request_id, job_id) and not self.wait(0.01):
                    pass
                job_data["seen_" + self.name()] = sorted(job_data)
                job_data.update(self.conf.get("set", {}))
                job_data.setdefault("trail", []).append(self.name())
                if self.conf.get("bad"):
                    job_data["bad"] = {1, 2}
                return Return(State[self.conf.get("state", "COMPLETE")])

            @staticmethod
            def _ended(request_id, job_id):
                with open_store() as store:
                    jobs = store.jobs(request_id)
                    return any(j.job_id == job_id and j.state == State.COMPLETE for j in jobs)
        """,
}


@pytest.mark.slow
def test_job_data_flows_through_an_installed_plugin(make_venv: Any, tmp_path: Path) -> None:
    """A plugin installed in a new venv: job data merges, the last parent to finish wins, nothing shared."""
    project = write_project(tmp_path, "put-jobs", "1.0", PUT_PLUGIN, "put = put_jobs.plugin")
    venv = make_venv()
    venv.install(Path(__file__).resolve().parent.parent, project)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        textwrap.dedent("""\
        request_id = "data"
        [args.put.root.set]
        x = "root"
        [args.put.a]
        set = { x = "a" }
        [args.put.b]
        set = { x = "b" }
        after_ended = ["data", "a"]
        [[jobs]]
        id = "root"
        type = "put"
        name = "root"
        [[jobs]]
        id = "a"
        type = "put"
        name = "a"
        after = ["root"]
        [[jobs]]
        id = "b"
        type = "put"
        name = "b"
        after = ["root"]
        [[jobs]]
        id = "c"
        type = "put"
        name = "c"
        after = ["a", "b"]
        """)
    )
    script = venv.script("spincycle-jobs")
    create = subprocess.run(
        [script, "chain", "create", spec], capture_output=True, text=True, env=clean_env(), check=False
    )
    assert create.returncode == 0, create.stderr
    run = subprocess.run(
        [script, "chain", "run", "--from", "-", "--json", "-d", "given:=1"],
        input=create.stdout,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=WAIT,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    data = report["job_data"]
    assert data["x"] == "b"  # b finished after a: it wins
    assert data["seen_c"] == ["given", "seen_a", "seen_b", "seen_root", "trail", "x"]
    assert data["trail"] == ["root", "b", "c"]  # b finished last; a's list was its own
    document = Chain.from_json(create.stdout)
    assert document.jobs["a"].record.distribution == "put-jobs"
    broken = tmp_path / "broken.toml"
    broken.write_text(
        textwrap.dedent("""\
        request_id = "broken"
        [args.put.bad]
        bad = true
        [args.put.quits]
        state = "STOPPED"
        [[jobs]]
        id = "bad"
        type = "put"
        name = "bad"
        [[jobs]]
        id = "quits"
        type = "put"
        name = "quits"
        [[jobs]]
        id = "fine"
        type = "put"
        name = "fine"
        [[jobs]]
        id = "after"
        type = "put"
        name = "after"
        after = ["bad", "quits"]
        """)
    )
    create = subprocess.run(
        [script, "chain", "create", broken], capture_output=True, text=True, env=clean_env(), check=False
    )
    run = subprocess.run(
        [script, "chain", "run", "--from", "-", "--json"],
        input=create.stdout,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=WAIT,
        check=False,
    )
    assert run.returncode == 1, run.stderr
    jobs = json.loads(run.stdout)["jobs"]
    assert "left job data that is not JSON data under key 'bad'" in jobs["bad"]["returns"][0]["error"]
    assert [jobs[j]["state"] for j in ("bad", "quits", "fine", "after")] == [
        "FAIL",
        "STOPPED",
        "COMPLETE",
        "PENDING",
    ]
    assert json.loads(run.stdout)["state"] == "FAIL"  # a job that stops on its own fails the chain


def test_live_status_on_a_terminal(tmp_path: Path) -> None:
    """On a terminal, chain run shows which jobs run, with their tries and status, while the chain runs."""
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'request_id = "nap"\n[args]\nduration = 1.5\n[[jobs]]\nid = "z"\ntype = "sleep"\nname = "zz"\n'
    )
    (tmp_path / "chain.json").write_text(cli("chain", "create", spec).stdout)
    seen = stderr_on_a_terminal(["chain", "run", "--from", str(tmp_path / "chain.json")], b"s left of 1.5s")
    assert b"chain nap: running z (try 1: " in seen


class TestOutput:
    def test_chain_run_shows_what_jobs_print(self, tmp_path: Path) -> None:
        """What each try printed, tagged with its job (stdout to stdout, stderr to stderr), then the chain."""
        spec = sleeper_spec(tmp_path, "echo out-line; echo err-line >&2")
        document = tmp_path / "chain.json"
        assert cli("chain", "create", spec, "-o", document).returncode == 0
        run = cli("chain", "run", "--from", document, "--no-store")
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("work | out-line\n")
        assert "work | err-line\n" in run.stderr

    def test_debug_shows_the_traceback_of_a_try_that_raised(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--debug: the traceback recorded with the try follows its job's lines."""
        import argparse  # noqa: PLC0415

        from spincycle_jobs import ChainBuilder  # noqa: PLC0415
        from spincycle_jobs import ChainRunner  # noqa: PLC0415
        from spincycle_jobs import Factory  # noqa: PLC0415
        from spincycle_jobs._cli._chain import _report  # noqa: PLC0415

        from .test_chainrunner_store import ProbePlugin  # noqa: PLC0415

        factory = Factory(autoload=False, plugins=[ProbePlugin])
        chain = ChainBuilder("r", {"modes": {"a": "raise"}}, factory=factory).job("a", "probe", "a").build()
        result = ChainRunner(chain, factory=factory).run()
        for debug in (False, True):
            _report(argparse.Namespace(json=False, debug=debug), result)
            err = capsys.readouterr().err
            assert ("a: the try raised:\nTraceback" in err) is debug
            assert ("RuntimeError: a broke" in err) is debug
