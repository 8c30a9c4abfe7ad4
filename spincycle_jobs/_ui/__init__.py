"""The run store on a web page (SPEC section 7): ``spincycle-jobs ui``, read-only.

A Starlette application (:mod:`._app`) served by uvicorn (:mod:`._serve`),
behind the extra ``spincycle-jobs[ui]``. Pages are built on the server
from escaped text (:mod:`._html`, :mod:`._pages`, :mod:`._graph`); one
small script in ``static/`` keeps a running run's page live. Everything
the pages need ships in the package: no CDN, no internet.
"""

from __future__ import annotations

from ._app import make_app
from ._serve import TOKEN_ENV
from ._serve import parse_bind
from ._serve import serve

__all__ = ["TOKEN_ENV", "make_app", "parse_bind", "serve"]
