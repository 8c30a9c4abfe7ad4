"""``python -m spincycle_jobs``: the ``spincycle-jobs`` command line."""

from ._cli import main

raise SystemExit(main())
