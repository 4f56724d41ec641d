"""Shared fixtures: a `backend` parametrised over the store's engines, stores on it, settings.

Backend differences live on the `Backend` objects (as in ibis's backend test configs), never in
`if backend == ...` branches inside tests. A test that hits a known bug on some engines only says
so with `@pytest.mark.known_bug(["postgres"], reason="BUG: ...")`: a strict expected failure
there, a normal test elsewhere.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from advocacy.config import Settings
from advocacy.demo import GeneratedCompany, generate
from advocacy.storage import Store, migrate
from tests.metrics.helpers import Company, import_company

POSTGRES_URL_ENV = "ADVOCACY_TEST_POSTGRES_URL"

WriteFile = Callable[..., Path]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "known_bug(backends, reason): strict expected failure on the named backends only",
    )


def in_ci() -> bool:
    """CI=true (or any non-false value): a missing or unreachable PostgreSQL is a failure."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


class Backend:
    """One engine under test: how to make fresh, empty stores on it and clean them up."""

    name: str = ""
    #: One process at a time may open a store (DuckDB's file lock).
    single_process: bool = False

    def new_url(self) -> str:
        raise NotImplementedError

    def child_url(self, url: str) -> str:
        """The URL a child process should use for `url`, tagged so it can be reaped."""
        return url

    def reap_children(self, url: str) -> None:
        """After SIGKILLing a child that wrote to `url`, wait until the engine let it go."""

    def cleanup(self) -> None:
        """Drop everything this backend created for the test."""


class DuckDBBackend(Backend):
    name = "duckdb"
    single_process = True

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def new_url(self) -> str:
        return f"duckdb://{self.folder / f'store-{uuid.uuid4().hex[:8]}.duckdb'}"


class PostgresBackend(Backend):
    """A fresh schema per store on the server named by ADVOCACY_TEST_POSTGRES_URL."""

    name = "postgres"

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.schemas: list[str] = []

    def new_url(self) -> str:
        schema = f"advocacy_test_{uuid.uuid4().hex[:12]}"
        self.schemas.append(schema)
        sep = "&" if "?" in self.server_url else "?"
        return f"{self.server_url}{sep}schema={schema}"

    def child_url(self, url: str) -> str:
        return f"{url}&application_name={self._tag(url)}"

    def reap_children(self, url: str) -> None:
        tag = self._tag(url)
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                pids = [r[0] for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (tag,)
                ).fetchall()]  # fmt: skip
                if not pids:
                    return
                for pid in pids:
                    conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
                time.sleep(0.05)
        raise AssertionError(f"PostgreSQL sessions of the killed child ({tag}) did not end")

    def cleanup(self) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            for schema in self.schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    @staticmethod
    def _tag(url: str) -> str:
        return "kill_" + url.rsplit("schema=", 1)[1].split("&")[0][-12:]


def _unavailable(message: str) -> None:
    if in_ci():
        pytest.fail(f"{message} (CI is set, so PostgreSQL tests must run)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The test server's URL, checked once; skipped locally, a failure in CI, when unusable."""
    url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    if not url:
        _unavailable(f"{POSTGRES_URL_ENV} is not set")
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        _unavailable(f"PostgreSQL at {POSTGRES_URL_ENV} is unreachable: {exc}")
    return url


def _apply_known_bugs(request: pytest.FixtureRequest, backend: Backend) -> None:
    for marker in request.node.iter_markers("known_bug"):
        if backend.name in marker.args[0]:
            request.applymarker(pytest.mark.xfail(strict=True, reason=marker.kwargs["reason"]))


@pytest.fixture(
    params=[
        pytest.param("duckdb", id="duckdb"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    engine: Backend
    if request.param == "postgres":
        engine = PostgresBackend(request.getfixturevalue("postgres_server_url"))
    else:
        engine = DuckDBBackend(tmp_path)
    _apply_known_bugs(request, engine)
    yield engine
    engine.cleanup()


def _open_migrated(url: str) -> Store:
    store = Store(url)
    migrate(store)
    return store


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    """A fresh, migrated store on each backend."""
    opened = _open_migrated(backend.new_url())
    yield opened
    opened.close()


@pytest.fixture
def duckdb_store(tmp_path: Path) -> Iterator[Store]:
    """A fresh, migrated DuckDB store, for what only DuckDB does (its file lock)."""
    opened = _open_migrated(DuckDBBackend(tmp_path).new_url())
    yield opened
    opened.close()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def write_file(tmp_path: Path) -> WriteFile:
    """`write_file(content, name="data.csv", encoding="utf-8") -> Path` under tmp_path.

    Text is written as given (no newline translation, so CRLF stays CRLF); a list of lines is
    joined with "\\n" and ended with one; bytes are written verbatim.
    """
    folder = tmp_path / "files"
    folder.mkdir(exist_ok=True)

    def write(content: str | bytes | list[str], name: str = "data.csv",
              encoding: str = "utf-8") -> Path:  # fmt: skip
        path = folder / name
        if isinstance(content, list):
            content = "\n".join(content) + "\n"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode(encoding))
        return path

    return write


# -- the demo company at scale 1, shared by the analysis and program tests --------------------
# Scale 1 (about 10k accounts) gives the planted effects of demo_truth.json enough power to be
# recovered; it is generated and imported through the real path once per session (about 15 s).


@pytest.fixture(scope="session")
def demo_generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCompany:
    return generate(tmp_path_factory.mktemp("demo-company") / "data", scale=1.0, seed=7)


@pytest.fixture(scope="session")
def demo_company(
    demo_generated: GeneratedCompany, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Company]:
    ws = import_company(demo_generated, tmp_path_factory.mktemp("demo-ws"))
    yield Company(ws, demo_generated)
    ws.close()


@pytest.fixture(scope="session")
def demo_truth(demo_generated: GeneratedCompany) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(demo_generated.truth_path.read_text(encoding="utf-8"))
    return loaded
