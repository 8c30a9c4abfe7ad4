"""The ``shell-command`` job: runs a command, captures its output and exit code."""

import os
import signal
import subprocess
import threading
from typing import Any

import attrs
from spincycle_jobs import BaseJob, JobError, Return, State, get_arg

from .capture import MAX_OUTPUT, Capture

#: Seconds a stopped command has to exit after SIGTERM before it is killed.
GRACE = 2.0


@attrs.define
class ShellCommand(BaseJob):
    """Runs job arg ``cmd`` with ``args``; a non-zero exit is ``FAIL`` with that exit code.

    ``args`` is a list, or a string split on whitespace. The command runs
    without a shell, in a process group of its own: ``stop`` sends it
    SIGTERM, then SIGKILL if it lingers, and so reaches its children too.
    The group is signalled only while the command is not yet reaped, so its
    id cannot belong to another process: a late ``stop`` kills nothing.

    Of each of stdout and stderr, at most job arg ``max_output`` bytes
    (default 1 MiB) are kept: the first and the last half, with a line at
    the cut that says how many bytes were dropped (see :class:`Capture`).
    Output is decoded as UTF-8; a byte that is not UTF-8 becomes U+FFFD.
    """

    cmd: str = ""
    args: list[str] = attrs.Factory(list)
    max_output: int = MAX_OUTPUT
    _proc: subprocess.Popen[bytes] | None = attrs.field(default=None, init=False, eq=False)
    _lock: threading.RLock = attrs.field(factory=threading.RLock, init=False, eq=False)
    _killer: threading.Timer | None = attrs.field(default=None, init=False, eq=False)

    def create(self, job_args: dict[str, Any]) -> None:
        """Take ``cmd`` and the optional ``args`` and ``max_output`` from the job args."""
        self.cmd = get_arg(job_args, "cmd", str)
        args = get_arg(job_args, "args", (list, str), default=[])
        self.args = args.split() if isinstance(args, str) else [str(a) for a in args]
        self.max_output = get_arg(job_args, "max_output", int, default=MAX_OUTPUT)
        if self.max_output < 0:
            msg = f"max_output in job args must be >= 0, got {self.max_output}"
            raise JobError(msg)

    def run(self, job_data: dict[str, Any]) -> Return:
        """Run the command to its end, or until stopped."""
        try:
            self._proc = proc = subprocess.Popen(  # noqa: S603 - running a command is the job
                [self.cmd, *self.args], stdin=subprocess.DEVNULL, stdout=-1, stderr=-1, start_new_session=True
            )
        except OSError as err:
            return Return(State.FAIL, exit=127, error=err, stderr=f"{self.cmd}: {err.strerror}\n")
        self.set_status(f"running {self.cmd} (pid {proc.pid})")
        if self.stopped:  # stop() came before the process existed
            self.stop()
        readers = [Capture(pipe, self.max_output) for pipe in (proc.stdout, proc.stderr) if pipe]
        for reader in readers:
            reader.start()
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # it exited, but its pid is still ours
        with self._lock:
            self._signal(signal.SIGKILL)  # leave no child of the command behind
            code = proc.wait()
        for reader in readers:
            reader.join()
        killer, self._killer = self._killer, None
        if killer is not None:
            killer.cancel()
        self.set_status(f"{self.cmd} exited {code}")
        state = State.STOPPED if self.stopped else State.COMPLETE if code == 0 else State.FAIL
        error = JobError(f"{self.cmd} exited {code}") if code and state == State.FAIL else None
        return Return(state, exit=code, error=error, stdout=readers[0].text, stderr=readers[1].text)

    def stop(self) -> None:
        """Send the command SIGTERM, and SIGKILL after a grace period if it lingers.

        The timer that kills is not a daemon thread: a process that exits
        meanwhile (a second Ctrl-C) still kills the command before it goes.
        """
        super().stop()
        with self._lock:
            if self._killer is None and self._signal(signal.SIGTERM):
                self._killer = threading.Timer(GRACE, self._signal, (signal.SIGKILL,))
                self._killer.daemon = False  # even when stop() is called from a daemon thread
                self._killer.start()

    def _signal(self, sig: signal.Signals) -> bool:
        """Signal the command's group, unless reaped: the lock keeps the reaping out meanwhile."""
        with self._lock:
            if self._proc is None or self._proc.returncode is not None:
                return False
            try:
                os.killpg(self._proc.pid, sig)
            except ProcessLookupError:
                return False
            return True
