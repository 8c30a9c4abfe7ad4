"""Plugin distributions for the discovery tests, good and broken, as project files."""

from __future__ import annotations

JOB = """\
from __future__ import annotations
import attrs
from spincycle_jobs import BaseJob, Return, State

@attrs.define
class {name}(BaseJob):
    text: str = ""

    def create(self, job_args):
        self.text = str(job_args.get("text", ""))

    def run(self, job_data):
        job_data[self.name()] = self.text
        return Return(State.COMPLETE, stdout=self.text)
"""

GOOD = {
    "plugin.py": """\
        from spincycle_jobs import hookimpl

        CALLS = []

        @hookimpl
        def spincycle_jobs_job_types():
            CALLS.append(1)
            return {
                "alpha": "good_jobs.alpha:Alpha",
                "beta": "good_jobs.beta:Beta",
                "shared": "good_jobs.alpha:Alpha",
                "lazy-no-module": "good_jobs.missing:Job",
                "lazy-no-attr": "good_jobs.alpha:Nope",
                "not-a-job": "good_jobs.alpha:not_a_job",
                "wrong-name": "good_jobs.alpha:wrong_name",
                "ctor-raises": "good_jobs.alpha:raises",
            }
        """,
    "alpha.py": JOB.format(name="Alpha")
    + """
def not_a_job(job_type, job_name):
    return {"type": job_type}

def wrong_name(job_type, job_name):
    return Alpha(job_type, job_name + "-x")

def raises(job_type, job_name):
    raise LookupError("no inventory for " + job_name)
""",
    "beta.py": JOB.format(name="Beta"),
}

OTHER = {
    "plugin.py": """\
        from spincycle_jobs import hookimpl
        from other_jobs.gamma import Gamma

        @hookimpl
        def spincycle_jobs_job_types():
            return {"shared": Gamma, "gamma": Gamma}
        """,
    "gamma.py": JOB.format(name="Gamma"),
}

IMPORT_BROKEN = {"plugin.py": "raise ImportError('needs libfoo, which is not installed')\n"}

HOOK_RAISES = {
    "plugin.py": """\
        from spincycle_jobs import hookimpl

        @hookimpl
        def spincycle_jobs_job_types():
            raise RuntimeError("inventory service down")
        """,
}

BAD_RETURN = {
    "plugin.py": """\
        from spincycle_jobs import hookimpl

        @hookimpl
        def spincycle_jobs_job_types():
            return ["alpha", "beta"]
        """,
}

TYPO = {
    "plugin.py": """\
        from spincycle_jobs import hookimpl

        @hookimpl
        def spincycle_jobs_job_typez():
            return {"delta": "typo_hook.plugin:Delta"}
        """,
}

#: name, version, files, entry point
DISTRIBUTIONS = [
    ("good-jobs", "1.0", GOOD, "good = good_jobs.plugin"),
    ("other-jobs", "2.0", OTHER, "other = other_jobs.plugin"),
    ("import-broken", "0.1", IMPORT_BROKEN, "broken = import_broken.plugin"),
    ("hook-raises", "0.1", HOOK_RAISES, "raiser = hook_raises.plugin"),
    ("bad-return", "0.1", BAD_RETURN, "badreturn = bad_return.plugin"),
    ("typo-hook", "0.1", TYPO, "typo = typo_hook.plugin"),
]
