"""The ``shell-command`` job: runs a command, captures its output and exit code."""

import os
import signal
import subprocess
import threading
from typing import Any

import attrs
from spincycle_jobs import BaseJob, JobError, Return, State, get_arg

#: Seconds a stopped command has to exit after SIGTERM before it is killed.
GRACE = 2.0


@attrs.define
class ShellCommand(BaseJob):
    """Runs job arg ``cmd`` with ``args``; a non-zero exit is ``FAIL`` with that exit code.

    ``args`` is a list, or a string split on whitespace. The command runs
    without a shell, in a process group of its own: ``stop`` sends it
    SIGTERM, then SIGKILL if it lingers, and so reaches its children too.
    """

    cmd: str = ""
    args: list[str] = attrs.Factory(list)
    _proc: subprocess.Popen[str] | None = attrs.field(default=None, init=False)
    _killer: threading.Timer | None = attrs.field(default=None, init=False)

    def create(self, job_args: dict[str, Any]) -> None:
        """Take ``cmd`` and the optional ``args`` from the job args."""
        self.cmd = get_arg(job_args, "cmd", str)
        args = get_arg(job_args, "args", (list, str), default=[])
        self.args = args.split() if isinstance(args, str) else [str(a) for a in args]

    def run(self, job_data: dict[str, Any]) -> Return:
        """Run the command to its end, or until stopped."""
        try:
            self._proc = proc = subprocess.Popen(  # noqa: S603 - running a command is the job
                [self.cmd, *self.args],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        except OSError as err:
            return Return(State.FAIL, exit=127, error=err, stderr=f"{self.cmd}: {err.strerror}\n")
        self.set_status(f"running {self.cmd} (pid {proc.pid})")
        if self.stopped:  # stop() came before the process existed
            self.stop()
        try:
            stdout, stderr = proc.communicate()
        finally:
            self._signal(signal.SIGKILL)  # leave no child of the command behind
            if self._killer is not None:
                self._killer.cancel()
        code = proc.returncode
        self.set_status(f"{self.cmd} exited {code}")
        state = State.STOPPED if self.stopped else State.COMPLETE if code == 0 else State.FAIL
        error = JobError(f"{self.cmd} exited {code}") if code and state == State.FAIL else None
        return Return(state, exit=code, error=error, stdout=stdout, stderr=stderr)

    def stop(self) -> None:
        """Send the command SIGTERM, and SIGKILL after a grace period if it lingers.

        The timer that kills is not a daemon thread: a process that exits
        meanwhile (a second Ctrl-C) still kills the command before it goes.
        """
        super().stop()
        if self._killer is None and self._signal(signal.SIGTERM):
            self._killer = threading.Timer(GRACE, self._signal, (signal.SIGKILL,))
            self._killer.daemon = False  # even when stop() is called from a daemon thread
            self._killer.start()

    def _signal(self, sig: signal.Signals) -> bool:
        if self._proc is None:
            return False
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            return False
        return True
