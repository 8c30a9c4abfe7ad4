"""The plugin's own tests: check_job drives each job as the platform would."""

import hashlib

from spincycle_jobs import Factory
from spincycle_jobs import State
from spincycle_jobs.testing import check_job


def test_checksum(job_factory: Factory, tmp_path) -> None:
    """The digest of a file reaches stdout and the job data."""
    path = tmp_path / "release.tar"
    path.write_bytes(b"payload" * 1000)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    ret = check_job(job_factory, "checksum", {"path": str(path)}, job_name="sum")
    assert (ret.state, ret.stdout) == (State.COMPLETE, expected + "\n")


def test_missing_file_fails(job_factory: Factory, tmp_path) -> None:
    """A file that cannot be read is FAIL, with the reason on stderr."""
    ret = check_job(job_factory, "checksum", {"path": str(tmp_path / "nope")})
    assert ret.state == State.FAIL
    assert "No such file" in ret.stderr


def test_stop(job_factory: Factory) -> None:
    """Stopped while it reads an endless stream, the job ends STOPPED, soon."""
    ret = check_job(job_factory, "checksum", {"path": "/dev/zero"}, stop_after=0.2, timeout=5)
    assert ret.state == State.STOPPED
