"""``spincycle-jobs ui`` over HTTP: every route's status codes, the headers, the token, and traversal.

The server is the real command on a free port of 127.0.0.1, over a real
SQLite store filled by real runs (see :mod:`tests.ui`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import urllib.parse
import urllib.request
import zipfile
from typing import TYPE_CHECKING
from typing import Any

import pytest

from spincycle_jobs import open_store
from spincycle_jobs._ui._app import is_loopback
from spincycle_jobs._ui._serve import Bind
from spincycle_jobs._ui._serve import parse_bind
from spincycle_jobs._ui._serve import token_for

from . import ui
from .conftest import ROOT
from .conftest import clean_env
from .pg import PASSWORD
from .test_docs import code_blocks
from .ui import filled_store  # noqa: F401 - the fixture store_url
from .ui import serving_store  # noqa: F401 - the fixture server

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from .pg import PostgresServer

TOKEN = "t0ken-of-the-tests-" + "x" * 8


def query(path: str, **params: str) -> str:
    return f"{path}?{urllib.parse.urlencode(params)}"


def api(server: ui.Server, path: str) -> Any:
    status, headers, body = server.get(path)
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    return json.loads(body)


class TestRoutes:
    def test_the_runs_newest_first(self, server: ui.Server) -> None:
        status, headers, body = server.get("/")
        assert status == 200
        assert headers["content-type"] == "text/html; charset=utf-8"
        page = body.decode()
        assert page.index(">broke</a>") < page.index(">ok</a>")  # ok ran first
        runs = api(server, "/api/runs")
        assert [r["state"] for r in runs["runs"]] == ["FAIL", "FAIL", "COMPLETE"]
        assert runs["total"] == 3

    def test_the_runs_filtered_by_state(self, server: ui.Server) -> None:
        assert [r["request_id"] for r in api(server, "/api/runs?state=COMPLETE")["runs"]] == ["ok"]
        assert api(server, "/api/runs?state=running")["runs"] == []
        status, _, body = server.get("/?state=COMPLETE")
        assert status == 200
        assert b">ok</a>" in body
        assert b">broke</a>" not in body

    @pytest.mark.parametrize("bad", ["state=NOPE", "page=0", "page=-1", "page=x", "page=99999999999"])
    def test_a_bad_query_is_400_naming_it(self, server: ui.Server, bad: str) -> None:
        status, _, body = server.get(f"/?{bad}")
        assert status == 400
        assert bad.partition("=")[0].encode() in body
        status, _, body = server.get(f"/api/runs?{bad}")
        assert status == 400
        assert bad.partition("=")[0] in json.loads(body)["error"]

    def test_a_run_its_graph_and_its_jobs(self, server: ui.Server) -> None:
        status, _, body = server.get("/run?id=ok")
        assert status == 200
        page = body.decode()
        assert page.count('class="node st-COMPLETE"') == 3
        assert page.count('class="edge"') == 2
        assert 'aria-label="the chain&#x27;s 3 jobs in 2 layers"' in page
        value = api(server, "/api/run?id=ok")
        assert value["run"]["state"] == "COMPLETE"
        assert [(j["job_id"], j["state"], j["tries"]) for j in value["jobs"]] == [
            ("first", "COMPLETE", 1),
            ("second", "COMPLETE", 1),
            ("third", "COMPLETE", 1),
        ]
        assert value["run"]["live"] is False

    def test_a_jobs_tries(self, server: ui.Server) -> None:
        status, _, body = server.get("/job?run=broke&id=raises")
        assert status == 200
        assert b"RuntimeError: raises broke" in body  # the traceback
        (one_try,) = api(server, "/api/job?run=broke&id=raises")["tries"]
        assert (one_try["state"], one_try["error_type"]) == ("FAIL", "RuntimeError")
        assert "Traceback (most recent call last)" in one_try["traceback"]
        assert api(server, "/api/job?run=ok&id=first")["tries"][0]["stdout"] == "first ran\n"

    def test_what_runs_now(self, server: ui.Server) -> None:
        status, _, body = server.get("/running")
        assert status == 200
        assert b"No runs running." in body
        assert api(server, "/api/running") == {"runs": []}

    @pytest.mark.parametrize(
        ("path", "status"),
        [
            ("/run", 400),
            ("/run?id=", 400),
            ("/run?id=nope", 404),
            ("/job?run=ok", 400),
            ("/job?run=ok&id=nope", 404),
            ("/job?run=nope&id=first", 404),
            ("/api/run?id=nope", 404),
            ("/api/job?run=ok&id=nope", 404),
            ("/nothing", 404),
            ("/api/nothing", 404),
        ],
    )
    def test_what_is_missing_or_unknown(self, server: ui.Server, path: str, status: int) -> None:
        got, headers, body = server.get(path)
        assert got == status
        assert "content-security-policy" in headers
        if path.startswith("/api/"):
            assert "error" in json.loads(body)

    def test_every_response_carries_the_security_headers(self, server: ui.Server) -> None:
        for path in ("/", "/run?id=ok", "/api/runs", "/static/ui.js", "/nothing"):
            _, headers, _ = server.get(path)
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp
            assert "unsafe-inline" not in csp
            assert "default-src 'none'" in csp
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["x-frame-options"] == "DENY"

    def test_pages_hold_no_inline_script(self, server: ui.Server) -> None:
        for path in ("/", "/run?id=ok", "/job?run=broke&id=raises", "/running"):
            page = server.get(path)[2].decode()
            assert page.count("<script") == 1
            assert '<script src="/static/ui.js" defer></script>' in page
            assert " on" not in page.replace(" one", "").replace(" only", "")  # no onload= and the like

    @pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
    def test_it_only_reads(self, server: ui.Server, method: str) -> None:
        request = urllib.request.Request(server.url, data=b"x", method=method)  # noqa: S310
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=ui.WAIT)  # noqa: S310
        with caught.value as error:
            assert error.code == 405
            assert error.headers["allow"] == "GET, HEAD"

    def test_a_host_that_is_not_loopback_is_refused(self, server: ui.Server) -> None:
        """A page whose DNS name was pointed at 127.0.0.1 (DNS rebinding) reads nothing."""
        assert server.get("/", {"Host": "attacker.example"})[0] == 421
        assert server.get("/api/runs", {"Host": "attacker.example:8470"})[0] == 421
        assert server.get("/", {"Host": "localhost:8470"})[0] == 200
        assert server.get("/", {"Host": "[::1]:8470"})[0] == 200


TRAVERSALS = [
    "/static/../_app.py",
    "/static/%2e%2e/_app.py",
    "/static/%2e%2e%2f_app.py",
    "/static/..%2f_app.py",
    "/static/..%5c_app.py",
    "/static/%252e%252e/_app.py",
    "/static/....//_app.py",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/../../../../../../etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/ui.js%00.png",
    "/..%2f..%2fpyproject.toml",
    "//etc/passwd",
    "/static/",
]


class TestTraversal:
    @pytest.mark.parametrize("path", TRAVERSALS)
    def test_nothing_outside_the_assets_is_served(self, server: ui.Server, path: str) -> None:
        status, _, body = server.get(path)
        assert status in {400, 404}, (status, body[:200])
        assert b"root:" not in body
        assert b"import" not in body

    def test_the_folder_without_its_slash_redirects_here(self, server: ui.Server) -> None:
        status, headers, _ = server.get("/static")
        assert status == 307
        assert headers["location"] == server.url + "static/"

    def test_the_assets_are_served(self, server: ui.Server) -> None:
        for name, kind in (("ui.js", "javascript"), ("ui.css", "text/css"), ("icon.svg", "image/svg+xml")):
            status, headers, body = server.get(f"/static/{name}")
            assert status == 200
            assert kind in headers["content-type"]
            assert body


class TestHostile:
    def test_hostile_values_are_text(self, server: ui.Server) -> None:
        pages = [
            server.get(query("/run", id=ui.HOSTILE_RUN))[2].decode(),
            server.get(query("/job", run=ui.HOSTILE_RUN, id=ui.HOSTILE_JOB))[2].decode(),
            server.get(query("/job", run=ui.HOSTILE_RUN, id=ui.LINK))[2].decode(),
            server.get(query("/job", run=ui.HOSTILE_RUN, id="fails"))[2].decode(),
            server.get("/")[2].decode(),
        ]
        for page in pages:
            assert page.count("<script") == 1
            assert "<img" not in page
            assert 'href="javascript:' not in page
            assert "\x1b" not in page
        joined = "".join(pages)
        assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in joined or (
            "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in joined
        )
        assert "\\x1b[31mred" in joined
        assert "lone \\udc80 surrogate" in joined

    def test_ten_megabytes_of_stdout_are_shown_by_their_ends(self, server: ui.Server) -> None:
        status, _, body = server.get(query("/job", run=ui.HOSTILE_RUN, id=ui.HOSTILE_JOB))
        assert status == 200
        assert len(body) < 1_000_000
        assert b"characters not shown" in body
        (one_try,) = api(server, query("/api/job", run=ui.HOSTILE_RUN, id=ui.HOSTILE_JOB))["tries"]
        assert one_try["stdout_left_out"] > 9_000_000

    def test_the_json_holds_no_lone_surrogate(self, server: ui.Server) -> None:
        _, _, body = server.get(query("/api/job", run=ui.HOSTILE_RUN, id="fails"))
        body.decode("ascii")
        assert "lone \\udc80 surrogate" in json.loads(body)["tries"][0]["stderr"]


@pytest.fixture(scope="module")
def guarded(store_url: str) -> Iterator[ui.Server]:
    with ui.serving(store_url, SPINCYCLE_JOBS_UI_TOKEN=TOKEN) as running:
        yield running


class TestToken:
    def test_no_token_is_401_and_a_wrong_one_403(self, guarded: ui.Server) -> None:
        assert guarded.get("/")[0] == 401
        assert guarded.get("/api/runs")[0] == 401
        assert guarded.get("/static/ui.js")[0] == 401
        assert guarded.get("/?token=wrong")[0] == 403
        assert guarded.get("/", {"Authorization": "Bearer wrong"})[0] == 403
        assert guarded.get("/", {"Cookie": "spincycle_jobs_ui=wrong"})[0] == 403

    def test_the_token_once_sets_a_cookie(self, guarded: ui.Server) -> None:
        status, headers, _ = guarded.get(f"/run?id=ok&token={TOKEN}")
        assert status == 303
        assert headers["location"] == "/run?id=ok"
        cookie = headers["set-cookie"]
        assert f"spincycle_jobs_ui={TOKEN}" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert guarded.get("/run?id=ok", {"Cookie": f"spincycle_jobs_ui={TOKEN}"})[0] == 200
        assert guarded.get("/api/runs", {"Authorization": f"Bearer {TOKEN}"})[0] == 200

    def test_the_redirect_stays_here(self, guarded: ui.Server) -> None:
        status, headers, _ = guarded.get(f"//evil.example/?token={TOKEN}")
        assert status == 303
        assert headers["location"].startswith("/")
        assert not headers["location"].startswith("//")

    def test_the_environments_token_is_not_printed(self, guarded: ui.Server) -> None:
        assert TOKEN not in "".join(guarded.first_lines)
        assert "SPINCYCLE_JOBS_UI_TOKEN" in "".join(guarded.first_lines)

    def test_a_short_token_is_refused(self, store_url: str) -> None:
        proc = ui.refused("--store", store_url, "--bind", "127.0.0.1:0", SPINCYCLE_JOBS_UI_TOKEN="short")  # noqa: S106
        assert proc.returncode == 2
        assert "at least 16 characters" in proc.stderr


class TestBind:
    @pytest.mark.parametrize(
        ("text", "host", "port"),
        [("127.0.0.1:8470", "127.0.0.1", 8470), ("[::1]:0", "::1", 0), ("localhost:80", "localhost", 80)],
    )
    def test_parse(self, text: str, host: str, port: int) -> None:
        assert parse_bind(text) == Bind(host, port)

    @pytest.mark.parametrize(
        "text", ["", "8470", "host", "host:", ":80", "h:99999", "::1:80", "[::1]80", "h:x"]
    )
    def test_a_bad_address_is_refused(self, text: str) -> None:
        with pytest.raises(ValueError, match="expected HOST:PORT"):
            parse_bind(text)

    def test_off_loopback_a_token_is_made(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("SPINCYCLE_JOBS_UI_TOKEN", raising=False)
        assert token_for(Bind("127.0.0.1", 0)) == (None, False)
        assert token_for(Bind("localhost", 0)) == (None, False)
        token, made = token_for(Bind("192.0.2.7", 8470))
        assert made
        assert token is not None
        assert len(token) >= 32
        assert token_for(Bind("0.0.0.0", 8470))[0] != token  # noqa: S104 - a name, nothing is bound
        assert not is_loopback("0.0.0.0")  # noqa: S104
        assert is_loopback("::1")

    def test_a_bad_bind_exits_2(self, tmp_path: Path) -> None:
        proc = ui.refused("--store", f"sqlite:///{tmp_path}/r.db", "--bind", "x")
        assert proc.returncode == 2
        assert "expected HOST:PORT" in proc.stderr


def test_paging_through_many_runs(tmp_path: Path) -> None:
    """Runs are shown 50 a page, newest first; the last page holds the rest."""
    url = f"sqlite:///{tmp_path / 'runs.sqlite3'}"
    for i in range(53):
        ui.run_chain(url, f"run-{i:03d}", {"only": []})
    with open_store(url) as store:
        assert store.count_runs() == 53
    with ui.serving(url) as server:
        first = api(server, "/api/runs")
        assert (first["pages"], len(first["runs"])) == (2, 50)
        assert first["runs"][0]["request_id"] == "run-052"
        last = api(server, "/api/runs?page=2")
        assert [r["request_id"] for r in last["runs"]] == ["run-002", "run-001", "run-000"]
        assert b"page 1 of 2" in server.get("/")[2]
        assert api(server, "/api/runs?page=3")["runs"] == []


def test_a_run_of_10000_jobs_opens_as_a_summary(tmp_path: Path) -> None:
    """Too many jobs to draw: the page counts them by layer and state, and pages the table."""
    url = f"sqlite:///{tmp_path / 'runs.sqlite3'}"
    jobs = 10_000
    ui.run_chain(url, "big", {f"j{i}": [f"j{i - 1}"] if i else [] for i in range(jobs)})
    with ui.serving(url) as server:
        status, _, body = server.get("/run?id=big")
        assert status == 200
        assert b"10,000 jobs are too many to draw" in body
        assert b"<svg" not in body
        value = api(server, "/api/run?id=big")
        assert (value["pages"], len(value["jobs"])) == (20, 500)
        assert value["jobs"][0]["job_id"] == "j0"
        assert sum(row["jobs"] for row in value["layers"]) == jobs
        assert len(value["layers"]) == 100  # 10,000 layers in ranges of 100
        assert value["layers"][0]["layer"] == "1-100"
        assert value["layers"][0]["counts"]["COMPLETE"] == 100
        assert api(server, "/api/run?id=big&page=20")["jobs"][-1]["job_id"] == "j9999"


def test_the_default_address_is_loopback() -> None:
    from spincycle_jobs._cli._ui import DEFAULT_BIND  # noqa: PLC0415

    assert DEFAULT_BIND == "127.0.0.1:8470"
    assert is_loopback(parse_bind(DEFAULT_BIND).host)


def masked(line: str) -> str:
    """``line`` with the port and the path of the store, which differ from run to run, masked."""
    line = re.sub(r"http://127\.0\.0\.1:\d+/", "URL", line)
    return re.sub(r"sqlite:///\S+/spincycle-jobs/", "STATE/", line)


def test_the_docs_command_runs_as_written(tmp_path: Path) -> None:
    """docs/ui.rst's console block: the command, as written, says what the page shows; Ctrl-C exits 130."""
    (block,) = code_blocks("ui", "console")
    command, *shown = block.splitlines()
    assert command.startswith("$ spincycle-jobs ui")
    scripts = os.path.dirname(sys.executable)  # noqa: PTH120 - where this environment's spincycle-jobs is
    proc = subprocess.Popen(
        shlex.split(command[2:]),
        cwd=tmp_path,
        env=clean_env(PATH=f"{scripts}:{os.environ['PATH']}", XDG_STATE_HOME=str(tmp_path / "state")),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        got = [proc.stdout.readline() for _ in shown]
        for line, expected in zip(got, shown, strict=True):
            assert masked(line.strip()) == masked(expected)
        url = re.search(r"http://\S+", got[0])
        assert url is not None
        with urllib.request.urlopen(url.group(), timeout=ui.WAIT) as response:  # noqa: S310
            assert response.status == 200
    finally:
        code = ui.stop(proc)
    assert code == 130


@pytest.mark.slow
def test_every_asset_ships_in_the_wheel(tmp_path: Path) -> None:
    """The page needs no internet: its assets are in the wheel, and its pages name nothing elsewhere."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path, ROOT],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("spincycle_jobs-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    static = ROOT / "spincycle_jobs" / "_ui" / "static"
    assets = {f"spincycle_jobs/_ui/static/{p.name}" for p in static.iterdir()}
    assert {"ui.js", "ui.css", "icon.svg"} <= {name.rpartition("/")[2] for name in assets}
    assert assets <= names
    for path in static.iterdir():
        assert "http://" not in path.read_text().replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in path.read_text()


def test_a_postgresql_store(postgres_server: PostgresServer) -> None:
    """The page reads a PostgreSQL store as it reads SQLite, and never shows the URL's password."""
    with postgres_server.database() as url:
        ui.fill(url)
        with ui.serving(url) as server:
            assert "***" in "".join(server.first_lines)
            assert PASSWORD not in "".join(server.first_lines)
            runs = api(server, "/api/runs")
            assert [r["request_id"] for r in runs["runs"]][1:] == ["broke", "ok"]
            status, _, body = server.get("/job?run=broke&id=raises")
            assert status == 200
            assert b"RuntimeError: raises broke" in body
            assert PASSWORD.encode() not in body
            assert api(server, "/api/run?id=ok")["run"]["state"] == "COMPLETE"
