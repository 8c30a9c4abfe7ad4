"""DaskExecutor against a real Dask cluster on this machine: worker processes, real plugins, real signals.

One ``LocalCluster`` with two worker processes serves the whole session.
Besides the example plugin (installed in this venv), the workers have a
``probe`` job that this process does not: a plugin distribution
installed into a folder of its own, which each worker adds to its path
when it starts. Chains with ``probe`` jobs are created by ``chain
create`` in a process that has the folder too.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import attrs
import pytest

from spincycle_jobs import Chain
from spincycle_jobs import ChainBuilder
from spincycle_jobs import ChainRunner
from spincycle_jobs import Factory
from spincycle_jobs import JobError
from spincycle_jobs import State
from spincycle_jobs._document import JobRecord
from spincycle_jobs._executor import Outcome
from spincycle_jobs._executor import Try
from spincycle_jobs.testing import check_executor

from .conftest import clean_env
from .conftest import pip
from .conftest import write_project
from .test_chain_cli import sleeper_spec

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator

distributed = pytest.importorskip("distributed", reason="the README's test command installs the dask extra")
pytest.importorskip("spincycle_jobs_example", reason="the README's test command installs the example plugin")

from spincycle_jobs.dask import _WATCHDOG  # noqa: E402
from spincycle_jobs.dask import DaskExecutor  # noqa: E402 - after the skips
from spincycle_jobs.dask import _Inbox  # noqa: E402
from spincycle_jobs.dask import try_statuses  # noqa: E402
from spincycle_jobs.dask import try_task  # noqa: E402

WAIT = 60.0

PROBE_PLUGIN = {
    "plugin.py": """\
        from spincycle_jobs import hookimpl

        @hookimpl
        def spincycle_jobs_job_types():
            return {"probe": "probe_jobs.probe:Probe"}
        """,
    "probe.py": """\
        import os, time
        import attrs
        from spincycle_jobs import BaseJob, Return, State

        @attrs.define
        class Probe(BaseJob):
            '''Does what job arg ``probe`` says for its name; records what it saw in job data.'''

            conf: dict = attrs.Factory(dict)

            def create(self, job_args):
                self.conf = job_args.get("probe", {}).get(self.name(), {})

            def run(self, job_data):
                conf = self.conf
                if conf.get("log"):
                    with open(conf["log"], "a") as log:
                        log.write(self.name() + "\\n")
                job_data["start_" + self.name()] = time.time()
                job_data["pid_" + self.name()] = os.getpid()
                if conf.get("touch"):
                    open(conf["touch"], "w").close()
                wait_for = conf.get("wait_for")
                while wait_for and not os.path.exists(wait_for) and not self.wait(0.01):
                    pass
                job_data.setdefault("trail", []).append(self.name())
                job_data["end_" + self.name()] = time.time()
                if conf.get("fail_unless") and not os.path.exists(conf["fail_unless"]):
                    return Return(State.FAIL, exit=3)
                if conf.get("fail_first"):  # fail the first tries: as many as this, counted in the log
                    with open(conf["log"]) as log:
                        if log.read().split().count(self.name()) <= conf["fail_first"]:
                            return Return(State.FAIL, exit=3)
                return Return(State.STOPPED if self.stopped else State.COMPLETE)
        """,
}


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.02)


@pytest.fixture(scope="session")
def probe_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the probe plugin installed in it, and nothing else."""
    where = tmp_path_factory.mktemp("probe")
    project = write_project(where, "probe-jobs", "1.0", PROBE_PLUGIN, "probe = probe_jobs.plugin")
    site = where / "site"
    pip("install", "--no-deps", "--no-build-isolation", "--no-index", "--target", site, project)
    return site


@pytest.fixture(scope="session")
def cluster(probe_site: Path) -> Iterator[Any]:
    """Two worker processes of two threads each; a worker that dies is never asked to run its task again."""
    import dask  # noqa: PLC0415 - only these tests need it

    preload = f"import site; site.addsitedir({str(probe_site)!r})"
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            processes=True,
            n_workers=2,
            threads_per_worker=2,
            host="127.0.0.1",
            dashboard_address=":0",  # None still binds 8787; any free port, never a fixed one
            memory_limit="1GiB",
            preload=[preload],
        ) as local,
    ):
        yield local


@pytest.fixture(scope="session")
def client(cluster: Any) -> Iterator[Any]:
    with distributed.Client(cluster, set_as_default=False) as dask_client:
        yield dask_client


@pytest.fixture
def executor(client: Any) -> Iterator[DaskExecutor]:
    client.wait_for_workers(2, timeout=WAIT)  # a test may have killed one: its nanny starts another
    dask_executor = DaskExecutor(client)
    yield dask_executor
    dask_executor.close()


class Ends:
    """Collects ``done`` calls, and waits for them."""

    def __init__(self) -> None:
        self.calls: list[tuple[Try, Outcome]] = []
        self.cond = threading.Condition()

    def __call__(self, try_: Try, outcome: Outcome) -> None:
        with self.cond:
            self.calls.append((try_, outcome))
            self.cond.notify_all()

    def wait(self, count: int = 1) -> list[Outcome]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.calls) >= count, WAIT), "done was never called"
            return [outcome for _, outcome in self.calls]


def try_(job_type: str, job_id: str = "j", job_args: dict[str, Any] | None = None) -> Try:
    record = JobRecord.create(Factory(), job_type, job_id, dict(job_args or {}))
    return Try("req", job_id, record, {"given": [1]}, 1)


def probe_chain(tmp_path: Path, jobs: str, probe: dict[str, Any], probe_site: Path) -> Chain:
    """Build a chain of probe jobs with ``chain create``, in a process that has the probe plugin."""
    spec = tmp_path / "spec.toml"
    spec.write_text(f'request_id = "probe-{tmp_path.name}"\n' + textwrap.dedent(jobs))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "spincycle_jobs",
            "chain",
            "create",
            spec,
            "-a",
            f"probe:={json.dumps(probe)}",
        ],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
        env=clean_env(PYTHONPATH=str(probe_site)),
    )
    assert proc.returncode == 0, proc.stderr
    return Chain.from_json(proc.stdout)


def job(job_id: str, after: tuple[str, ...] = (), retry: int = 0) -> str:
    return f"""
        [[jobs]]
        id = "{job_id}"
        type = "probe"
        name = "{job_id}"
        after = {json.dumps(list(after))}
        retry = {retry}
        """


def test_the_core_package_never_imports_dask() -> None:
    """``import spincycle_jobs`` and a chain run on the ThreadExecutor load neither dask nor distributed."""
    code = textwrap.dedent("""\
        import sys
        from spincycle_jobs import ChainBuilder, ChainRunner, State
        chain = ChainBuilder("r", {"duration": 0}).job("a", "noop", "a").job("b", "sleep", "b", after=["a"])
        chain = chain.build()
        assert ChainRunner(chain).run({"x": 1}).state == State.COMPLETE
        import spincycle_jobs._cli, spincycle_jobs._cli._chain
        print(sorted({m.split(".")[0] for m in sys.modules} & {"dask", "distributed"}))
        """)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=clean_env(),
        check=False,
        timeout=WAIT,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["[]"]


class TestExecutor:
    def test_a_try_runs_on_a_worker(self, executor: DaskExecutor) -> None:
        """The try runs in a worker process, made there by the worker's factory; JSON comes back."""
        ends = Ends()
        executor.start(try_("shell-command", "sh", {"cmd": "sh", "args": ["-c", "echo $PPID"]}), ends)
        (outcome,) = ends.wait()
        assert outcome.state == State.COMPLETE, outcome
        assert int(outcome.stdout) != os.getpid()
        assert outcome.job_data == {"given": [1]}

    def test_the_task_key_names_the_try_and_the_outcome_its_worker(
        self, executor: DaskExecutor, client: Any
    ) -> None:
        """The task's key, as Dask's dashboard shows it, names the try; the outcome names the worker."""
        ends = Ends()
        executor.start(try_("sleep", "build-a", {"duration": 0.5}), ends)
        wait_until(lambda: executor._by_try["req/build-a/1"].future is not None, "the submission")
        key = str(executor._by_try["req/build-a/1"].future.key)  # type: ignore[union-attr]
        (outcome,) = ends.wait()
        assert key.startswith("spincycle-jobs-try-req/build-a/1-"), key
        assert outcome.worker in set(client.scheduler_info()["workers"])  # by address

    def test_a_type_unknown_on_the_workers_fails_alone(self, executor: DaskExecutor) -> None:
        """A record whose type no worker offers, or from another distribution, ends FAIL saying why."""
        good = try_("noop")
        unknown = Try("req", "nope", attrs.evolve(good.record, type="nope", name="nope"), {}, 1)
        other = Try("req", "o", JobRecord("noop", "o", good.record.data, {}, "x", "other-dist", "1"), {}, 1)
        ends = Ends()
        executor.start(unknown, ends)
        executor.start(other, ends)
        ends.wait(2)
        outcomes = {a.job_id: o for a, o in ends.calls}
        assert outcomes["nope"].state == State.FAIL
        assert "cannot make job 'nope'" in (outcomes["nope"].error or "")
        assert "UnknownJobTypeError: unknown job type 'nope'" in (outcomes["nope"].error or "")
        assert "created by distribution 'other-dist'" in (outcomes["o"].error or "")

    def test_a_try_that_is_not_json_fails_alone(self, executor: DaskExecutor) -> None:
        """Job data that JSON cannot carry (NaN) fails that try, saying why; a try beside it runs."""
        good = try_("noop", "good")
        bad = Try("req", "bad", good.record, {"x": float("nan")}, 1)
        ends = Ends()
        executor.start(bad, ends)
        executor.start(good, ends)
        ends.wait(2)
        outcomes = {a.job_id: o for a, o in ends.calls}
        assert outcomes["bad"].state == State.FAIL
        assert "cannot be sent to Dask as JSON" in (outcomes["bad"].error or "")
        assert outcomes["good"].state == State.COMPLETE

    def test_stop_reaches_the_job_on_its_worker(self, executor: DaskExecutor) -> None:
        """status() comes from the job on its worker; stop() calls its stop(): STOPPED, long before 600 s."""
        sleep = try_("sleep", "s", {"duration": 600})
        ends = Ends()
        executor.start(sleep, ends)
        wait_until(lambda: "left of 600s" in executor.status(sleep), "the job's status")
        executor.stop(sleep)
        (outcome,) = ends.wait()
        assert outcome.state == State.STOPPED
        assert executor.status(sleep) == ""

    def test_a_stop_before_the_try_starts_stops_it_when_it_does(self, executor: DaskExecutor) -> None:
        """stop() right after start(): the job is stopped as soon as a worker makes it."""
        sleep = try_("sleep", "early", {"duration": 600})
        ends = Ends()
        executor.start(sleep, ends)
        executor.stop(sleep)
        assert ends.wait()[0].state == State.STOPPED

    def test_a_killed_worker_fails_the_try_which_ran_once(
        self, executor: DaskExecutor, client: Any, tmp_path: Path
    ) -> None:
        """SIGKILL to the worker of a shell job: FAIL, the worker died; the command ran once, was killed."""
        log, pidfile = tmp_path / "log", tmp_path / "pid"
        script = f"echo ran >> {log}; echo $$ > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; exec sleep 600"
        shell = try_("shell-command", "doomed", {"cmd": "sh", "args": ["-c", script]})
        ends = Ends()
        executor.start(shell, ends)
        wait_until(pidfile.exists, "the job's command starting")
        command = int(pidfile.read_text())
        worker = parent_of(command)
        assert worker in client.run(os.getpid).values()
        time.sleep(0.6)  # the worker's watchdog looks for its jobs' commands 4 times a second
        try:
            os.kill(worker, signal.SIGKILL)
            (outcome,) = ends.wait()
            wait_until(lambda: gone(command), "the watchdog killing the command")
        finally:
            with_pid_gone(command)
        assert outcome.state == State.FAIL
        assert "the Dask worker running the try died" in (outcome.error or "")
        assert outcome.job_data == {"given": [1]}
        client.wait_for_workers(2, timeout=WAIT)
        assert log.read_text() == "ran\n"

    def test_close_ends_the_tries_left_and_does_not_hang(self, client: Any) -> None:
        """close() with a try running: its done is called once, FAIL, and its job stops on its worker.

        A start after close fails the try too.
        """
        dask_executor = DaskExecutor(client)
        sleep = try_("sleep", "left", {"duration": 600})
        ends = Ends()
        dask_executor.start(sleep, ends)
        wait_until(lambda: dask_executor.status(sleep) != "", "the job starting")
        task_key = dask_executor._by_try[sleep.key].task_key
        dask_executor.close()
        dask_executor.close()
        dask_executor.start(try_("noop", "late"), ends)
        outcomes = ends.wait(2)
        wait_until(
            lambda: not any(task_key in found for found in client.run(try_statuses).values()),
            "the job stopping on its worker",
        )
        assert [a.job_id for a, _ in ends.calls] == ["left", "late"]
        assert all(o.state == State.FAIL for o in outcomes)
        assert "closed" in (outcomes[1].error or "")

    def test_a_scheduler_that_runs_tasks_again_is_refused(self, cluster: Any, client: Any) -> None:
        """allowed-failures above 0 could run a job twice: the executor refuses the scheduler."""
        cluster.scheduler.allowed_failures = 3
        try:
            with pytest.raises(JobError, match="allowed-failures = 3"):
                DaskExecutor(client)
        finally:
            cluster.scheduler.allowed_failures = 0

    def test_an_address_nobody_listens_on_is_a_job_error(self) -> None:
        """A scheduler that cannot be reached: a JobError naming the address."""
        with pytest.raises(JobError, match=r"cannot connect to the Dask scheduler at 'tcp://127.0.0.1:\d+'"):
            DaskExecutor(f"tcp://127.0.0.1:{free_port()}", timeout=0.5)


def test_the_dask_executor_conforms(client: Any) -> None:
    """check_executor on a LocalCluster of worker processes, each executor with the session's client."""
    client.wait_for_workers(2, timeout=WAIT)
    check_executor(lambda: DaskExecutor(client), Factory())


class TestChains:
    def test_plugins_on_the_workers_only(
        self, executor: DaskExecutor, probe_site: Path, tmp_path: Path
    ) -> None:
        """probe is installed on the workers, not here: the chain completes there."""
        assert "probe" not in {t.type for t in Factory().types()}
        chain = probe_chain(tmp_path, job("a"), {}, probe_site)
        result = ChainRunner(chain, executor=executor).run()
        assert result.state == State.COMPLETE
        assert result.job_data["trail"] == ["a"]

    def test_parallel_branches_overlap_and_share_no_job_data(
        self, executor: DaskExecutor, probe_site: Path, tmp_path: Path
    ) -> None:
        """b and c run at once (each waits for the other to start); d gets the last to finish's data."""
        b_on, c_on = tmp_path / "b-on", tmp_path / "c-on"
        jobs = job("a") + job("b", ("a",)) + job("c", ("a",)) + job("d", ("b", "c"))
        probe = {
            "b": {"touch": str(b_on), "wait_for": str(c_on)},
            "c": {"touch": str(c_on), "wait_for": str(b_on)},
        }
        chain = probe_chain(tmp_path, jobs, probe, probe_site)
        result = ChainRunner(chain, executor=executor).run({"given": True})
        assert result.state == State.COMPLETE
        data = {job_id: dict(run.job_data or {}) for job_id, run in result.chain.jobs.items()}
        assert max(data["b"]["start_b"], data["c"]["start_c"]) < min(data["b"]["end_b"], data["c"]["end_c"])
        assert data["b"]["trail"] == ["a", "b"]
        assert data["c"]["trail"] == ["a", "c"]
        last = "b" if result.job_data["trail"][1] == "b" else "c"
        assert result.job_data["trail"] in (["a", "b", "d"], ["a", "c", "d"])
        assert data["d"]["trail"] == ["a", last, "d"]
        assert result.job_data["given"] is True
        assert {data[j]["pid_" + j] for j in "abcd"} != {os.getpid()}

    def test_a_failure_keeps_what_depends_on_it_from_starting(
        self, executor: DaskExecutor, probe_site: Path, tmp_path: Path
    ) -> None:
        """b fails: d after it never starts, c beside it completes; the chain fails."""
        jobs = job("a") + job("b", ("a",)) + job("c", ("a",)) + job("d", ("b",))
        chain = probe_chain(tmp_path, jobs, {"b": {"fail_unless": str(tmp_path / "never")}}, probe_site)
        result = ChainRunner(chain, executor=executor).run()
        assert result.state == State.FAIL
        assert {j: (r.state, r.tries) for j, r in result.jobs.items()} == {
            "a": (State.COMPLETE, 1),
            "b": (State.FAIL, 1),
            "c": (State.COMPLETE, 1),
            "d": (State.PENDING, 0),
        }

    def test_retries_are_the_chains(self, executor: DaskExecutor, probe_site: Path, tmp_path: Path) -> None:
        """A try that fails gets its next try on the cluster; each try ran exactly once."""
        log = tmp_path / "log"
        jobs = job("a", retry=3)
        chain = probe_chain(tmp_path, jobs, {"a": {"log": str(log), "fail_first": 2}}, probe_site)
        result = ChainRunner(chain, executor=executor).run()
        assert result.state == State.COMPLETE
        assert [r.state for r in result.jobs["a"].returns] == [State.FAIL, State.FAIL, State.COMPLETE]
        assert log.read_text() == "a\n" * 3

    def test_resume_from_a_saved_document(
        self, executor: DaskExecutor, probe_site: Path, tmp_path: Path
    ) -> None:
        """A failed run saved and resumed: completed jobs are skipped with their job data, the rest run."""
        log, ok = tmp_path / "log", tmp_path / "ok"
        jobs = job("a") + job("b", ("a",)) + job("c", ("b",))
        probe = {j: {"log": str(log)} for j in "abc"} | {"b": {"log": str(log), "fail_unless": str(ok)}}
        chain = probe_chain(tmp_path, jobs, probe, probe_site)
        first = ChainRunner(chain, executor=executor).run()
        assert first.state == State.FAIL
        saved = first.chain.to_json()
        ok.touch()
        resumed = ChainRunner(Chain.from_json(saved), executor=executor).run()
        assert resumed.state == State.COMPLETE
        assert {j: r.tries for j, r in resumed.jobs.items()} == {"a": 0, "b": 1, "c": 1}
        assert log.read_text().split() == ["a", "b", "b", "c"]
        assert resumed.job_data["trail"] == ["a", "b", "c"]

    def test_stop_stops_the_running_jobs_on_the_workers(
        self, executor: DaskExecutor, probe_site: Path, tmp_path: Path
    ) -> None:
        """ChainRunner.stop(): the running probe (waiting for a file that never comes) ends STOPPED."""
        on = tmp_path / "on"
        jobs = job("a") + job("b", ("a",))
        chain = probe_chain(
            tmp_path, jobs, {"a": {"touch": str(on), "wait_for": str(tmp_path / "never")}}, probe_site
        )
        runner = ChainRunner(chain, executor=executor)

        def stop_once_a_runs() -> None:
            wait_until(on.exists, "a starting")
            runner.stop()

        stopper = threading.Thread(target=stop_once_a_runs)
        stopper.start()
        result = runner.run()
        stopper.join()
        assert result.state == State.STOPPED
        assert {j: r.state for j, r in result.jobs.items()} == {"a": State.STOPPED, "b": State.PENDING}


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def with_pid_gone(pid: int) -> None:
    """Kill ``pid`` if it still runs: a command its killed worker left behind."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.frozen
class DaskHosts:
    """A ``dask scheduler`` and a ``dask worker`` this test started."""

    address: str
    scheduler: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]


@pytest.fixture
def dask_processes(tmp_path: Path) -> Iterator[DaskHosts]:
    """A real ``dask scheduler`` and ``dask worker`` on 127.0.0.1; none left after."""
    with dask_hosts(tmp_path) as hosts:
        yield hosts


@contextlib.contextmanager
def dask_hosts(tmp_path: Path, **env: str) -> Iterator[DaskHosts]:
    """Start a real ``dask scheduler`` and ``dask worker`` on 127.0.0.1, with ``env`` added; stop both."""
    dask = Path(sys.executable).parent / "dask"
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = clean_env(DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0", **env)
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    started = []
    try:
        for name, args in [
            ("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]),
            (
                "worker",
                [
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "2",
                    "--memory-limit",
                    "1GiB",
                    "--local-directory",
                    str(logs),
                ],
            ),
        ]:
            with (logs / f"{name}.log").open("w") as log:
                started.append(
                    subprocess.Popen(
                        [dask, *args], stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
                    )
                )
        with distributed.Client(address, timeout=WAIT, set_as_default=False) as dask_client:
            dask_client.wait_for_workers(1, timeout=WAIT)
        yield DaskHosts(address, *started)
    finally:
        for proc in reversed(started):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    # A worker's watchdog ends a moment after its worker: wait for it, as for the strays of a bug.
    wait_until(
        lambda: [pid for proc in started for pid in session_members(proc.pid)] == [],
        "every process of the dask sessions ending",
    )
    wait_until(lambda: orphan_watchdogs() == [], "the watchdogs of the workers exiting")


def orphan_watchdogs() -> list[int]:
    """The pids of the live watchdogs whose worker process is gone."""
    orphans = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            len(args) > 2
            and args[-3] == os.fsencode(_WATCHDOG)
            and gone(int(args[-2]))
            and not gone(int(entry.name))
        ):
            orphans.append(int(entry.name))
    return orphans


def session_members(sid: int) -> list[int]:
    """The pids of the live processes of session ``sid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def cli(*args: str | Path, **popen: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "spincycle_jobs", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
        **popen,
    )


@pytest.mark.slow
def test_chain_run_on_a_dask_scheduler_and_worker(dask_processes: DaskHosts, tmp_path: Path) -> None:
    """``chain run --executor dask`` against real processes: a run completes; Ctrl-C stops the next one."""
    spec, doc = tmp_path / "spec.toml", tmp_path / "chain.json"
    pidfile = tmp_path / "pid"
    spec.write_text(
        textwrap.dedent(f"""\
        request_id = "on-dask"
        [args]
        duration = 0.05
        cmd = "sh"
        args = ["-c", "if [ -e {pidfile}.go ]; then echo $$ > {pidfile}; exec sleep 600; fi; echo built"]
        [[jobs]]
        id = "fetch"
        type = "noop"
        name = "fetch"
        [[jobs]]
        id = "wait"
        type = "sleep"
        name = "wait"
        after = ["fetch"]
        [[jobs]]
        id = "build"
        type = "shell-command"
        name = "build"
        after = ["wait"]
        [[jobs]]
        id = "publish"
        type = "noop"
        name = "publish"
        after = ["wait", "build"]
        """)
    )
    created = cli("chain", "create", spec, "-o", doc)
    assert created.communicate(timeout=WAIT)[1] == ""
    assert created.returncode == 0
    run_args: list[str | Path] = [
        "chain",
        "run",
        "--from",
        doc,
        "--executor",
        "dask",
        "--scheduler",
        dask_processes.address,
        "--json",
    ]

    done = cli(*run_args)
    out, err = done.communicate(timeout=WAIT)
    assert done.returncode == 0, out + err
    report = json.loads(out)
    assert report["state"] == "COMPLETE"
    assert report["jobs"]["build"]["returns"][0]["stdout"] == "built\n"

    Path(f"{pidfile}.go").touch()
    running = cli(*run_args, "--no-store")  # the store holds request "on-dask" now: one run per request
    try:
        wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() != "", "the command starting")
        running.send_signal(signal.SIGINT)
        out, err = running.communicate(timeout=WAIT)
    finally:
        running.kill()
        running.communicate()
    assert running.returncode == 128 + signal.SIGINT, err
    report = json.loads(out)
    assert report["state"] == "STOPPED"
    assert {j: v["state"] for j, v in report["jobs"].items()} == {
        "fetch": "COMPLETE",
        "wait": "COMPLETE",
        "build": "STOPPED",
        "publish": "PENDING",
    }
    command = int(pidfile.read_text())
    wait_until(lambda: gone(command), "the end")


@pytest.mark.slow
def test_a_dead_driver_s_tries_are_stopped_and_resume_goes_on(
    dask_processes: DaskHosts, tmp_path: Path
) -> None:
    """kill -9 of ``chain run --executor dask``: its running try's job is stopped on the worker within 30 s
    (its command ends), and ``chain resume`` completes the run there, the completed job not run again."""
    pidfile, ran = tmp_path / "pid", tmp_path / "ran"
    script = f"echo x >> {ran}; if [ -e {pidfile} ]; then exit 0; fi; echo $$ > {pidfile}; exec sleep 600"
    spec = sleeper_spec(tmp_path, script)  # request "long": first, work (the script), last
    doc = tmp_path / "chain.json"
    created = cli("chain", "create", spec, "-o", doc)
    assert created.communicate(timeout=WAIT)[1] == ""
    on_dask = ["--executor", "dask", "--scheduler", dask_processes.address]
    driver = cli("chain", "run", "--from", doc, *on_dask)
    try:
        wait_until(lambda: pidfile.exists() and pidfile.read_text().strip() != "", "the command starting")
        driver.send_signal(signal.SIGKILL)
        driver.communicate(timeout=WAIT)
    finally:
        driver.kill()
        driver.communicate()
    command = int(pidfile.read_text())
    killed = time.monotonic()
    wait_until(lambda: gone(command), "its end")
    assert time.monotonic() - killed <= 30  # the bound docs/chains.rst gives
    resumed = cli("chain", "resume", "long", *on_dask, "--json")
    out, err = resumed.communicate(timeout=WAIT)
    assert resumed.returncode == 0, err
    assert {j: v["tries"] for j, v in json.loads(out)["jobs"].items()} == {"first": 0, "work": 1, "last": 1}
    assert ran.read_text() == "x\nx\n"


def finished(*args: str | Path) -> Any:
    """Run a command that drives a run to its end, with ``--json``; return what it printed."""
    proc = cli(*args, "--json")
    out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 0, err
    return json.loads(out)


def kill_9_when(driver: subprocess.Popen[str], ran: Path, moment: tuple[int, float]) -> None:
    """SIGKILL ``driver`` once ``moment[0]`` jobs have written to ``ran``, ``moment[1]`` seconds on."""
    try:
        deadline = time.monotonic() + WAIT
        while len(ran.read_text().split()) <= moment[0] and driver.poll() is None:
            assert time.monotonic() < deadline, "the run never got there"
            time.sleep(0.002)
        time.sleep(moment[1])
        driver.send_signal(signal.SIGKILL)
        driver.communicate(timeout=WAIT)
    finally:
        driver.kill()
        driver.communicate()


@pytest.mark.slow
def test_kill_9_of_the_driver_at_seeded_moments(dask_processes: DaskHosts, tmp_path: Path) -> None:
    """kill -9 of ``chain run --executor dask`` at 20 seeded moments: the store reads, ``chain resume``
    completes on Dask, no job the store recorded COMPLETE runs again, and the final job data is an
    uninterrupted run's."""
    import random  # noqa: PLC0415

    from spincycle_jobs import open_store  # noqa: PLC0415

    ran = tmp_path / "ran"
    jobs = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": ["d"]}
    spec = 'cmd = "sh"\n' + "".join(
        f'[[jobs]]\nid = "{job_id}"\ntype = "shell-command"\nname = "{job_id}"\nafter = {after!r}\n'
        f'[jobs.args]\nargs = ["-c", "echo {job_id} >> {ran}; sleep 0.2"]\n'
        for job_id, after in jobs.items()
    )
    on_dask = ["--executor", "dask", "--scheduler", dask_processes.address]

    def document(n: int) -> Path:
        (tmp_path / f"{n}.toml").write_text(f'request_id = "k9-{n}"\n[args]\n{spec}')
        out = tmp_path / f"{n}.json"
        created = cli("chain", "create", tmp_path / f"{n}.toml", "-o", out)
        assert created.communicate(timeout=WAIT)[1] == ""
        return out

    data = ["-d", "base=1", "-d", "deploy=k9"]
    uninterrupted = finished(
        "chain", "run", "--from", document(0), *on_dask, *data, "--store", f"sqlite:///{tmp_path}/0.db"
    )
    assert uninterrupted["job_data"] == {"base": "1", "deploy": "k9"}
    rng = random.Random(9)  # noqa: S311 - the same moments in every run of the suite
    # A moment: after the k-th job has started (its line is written), and a little more.
    moments = [(rng.randrange(len(jobs)), rng.uniform(0.0, 0.15)) for _ in range(20)]
    interrupted = 0
    for n, moment in enumerate(moments, 1):
        url = f"sqlite:///{tmp_path / f'{n}.db'}"
        ran.write_text("")
        kill_9_when(cli("chain", "run", "--from", document(n), *on_dask, *data, "--store", url), ran, moment)
        if not (tmp_path / f"{n}.db").exists():
            continue  # killed before it made the store
        with open_store(url) as store:  # it reads
            if not store.runs():
                continue
            done = {job.job_id for job in store.jobs(f"k9-{n}", states=(State.COMPLETE,))}
            store.log(f"k9-{n}")
        before = ran.read_text().split()
        if done == set(jobs):
            continue
        interrupted += 1
        resumed = finished("chain", "resume", f"k9-{n}", *on_dask, "--store", url)
        assert resumed["job_data"] == uninterrupted["job_data"], f"moment {moment}"
        again = ran.read_text().split()[len(before) :]
        assert not done & set(again), f"moment {moment}: COMPLETE jobs ran again"
        assert set(before) | set(again) >= set(jobs)
        with open_store(url) as store:
            assert store.run(f"k9-{n}").state == State.COMPLETE
    assert interrupted >= 10, f"only {interrupted} of the moments {moments} fell in a run"


@pytest.mark.slow
def test_a_scheduler_killed_mid_run_ends_the_run_as_fail(
    dask_processes: DaskHosts, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGKILL of the scheduler while a job with retries left runs: FAIL within 30 s, saying why; the stop of
    the lost try logs no AttributeError."""
    factory = Factory()
    chain = (
        ChainBuilder("lost", {"duration": 600}, factory=factory)
        .job("wait", "sleep", "wait", retry=2)
        .job("after", "noop", "after", after=["wait"])
        .build()
    )
    executor = DaskExecutor(dask_processes.address)
    runner = ChainRunner(chain, executor=executor, factory=factory)
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(runner.run()))
    thread.start()
    try:
        wait_until(lambda: bool(runner.status()) and runner.status()[0].status != "", "the job running")
        os.killpg(dask_processes.scheduler.pid, signal.SIGKILL)
        killed = time.monotonic()
        thread.join(WAIT)
        assert not thread.is_alive(), "the run hangs"
        assert time.monotonic() - killed <= 30  # the bound docs/chains.rst gives
    finally:
        executor.close()
        thread.join(WAIT)
    (result,) = results
    assert result.state == State.FAIL
    assert result.jobs["after"].state == State.PENDING
    errors = [str(r.error) for r in result.jobs["wait"].returns]
    assert errors
    for error in errors:
        assert f"the Dask scheduler at {dask_processes.address} was lost" in error
    assert "AttributeError" not in caplog.text


class TestOnTheWorkerSide:
    def test_a_task_key_runs_once_per_worker(self) -> None:
        """try_task, called twice with one task key in one process, runs the job the first time only."""
        text = json.dumps(try_("shell-command", "once", {"cmd": "echo", "args": "ran"}).to_dict())
        first = Outcome.from_dict(json.loads(try_task(text, "key-once")))
        second = Outcome.from_dict(json.loads(try_task(text, "key-once")))
        assert (first.state, first.stdout) == (State.COMPLETE, "ran\n")
        assert second.state == State.FAIL
        assert "was started on this worker before; it does not run twice" in (second.error or "")

    def test_events_that_are_not_outcomes_are_ignored(self) -> None:
        """Anyone may log events on the outcome topic: what is not an outcome of a known try is dropped."""
        inbox = _Inbox()
        ended: queue.SimpleQueue[Any] = queue.SimpleQueue()
        inbox.routes["known"] = ended
        for msg in ["text", {"key": 1, "outcome": "x"}, {"key": "unknown", "outcome": "x"}, {"key": "known"}]:
            inbox((0.0, msg))
        assert ended.empty()
        inbox((0.0, {"key": "known", "outcome": "{}"}))
        assert ended.get_nowait() == ("known", "{}")
