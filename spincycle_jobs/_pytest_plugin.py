"""The pytest plugin that installing spincycle-jobs adds: the ``job_factory`` fixture."""

from __future__ import annotations

import pytest

from ._factory import Factory


@pytest.fixture
def job_factory() -> Factory:
    """Return a :class:`~spincycle_jobs.Factory` over the plugins installed in this environment."""
    return Factory()
