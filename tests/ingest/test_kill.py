"""A process killed mid-import leaves all of the file's rows or none, never a part (DESIGN §9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from advocacy.config import Settings
from advocacy.ingest import ImportOptions, import_file
from advocacy.storage import Store

if TYPE_CHECKING:
    from conftest import Backend

ROWS = 120_000
INVALID_EVERY = 1_000  # rows 0, 1000, 2000, … have an NPS score of 11
REJECTED = ROWS // INVALID_EVERY
VALID = ROWS - REJECTED

CHILD = """
import sys
from pathlib import Path
from advocacy.config import Settings
from advocacy.ingest import ImportOptions, import_file
from advocacy.storage import Store, migrate

def say(message):
    print(message, flush=True)

store = Store(sys.argv[1])
migrate(store)
say("ready")
reports = import_file(store, Settings(), Path(sys.argv[2]),
                      ImportOptions(table="survey_responses"), progress=say)
say(f"done {reports[0].inserted}")
"""


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kill") / "responses.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("response_id,account_id,survey,score,responded_at,comment\n")
        for i in range(ROWS):
            score = 11 if i % INVALID_EVERY == 0 else i % 11
            fh.write(
                f"R{i:07d},A{i % 5000:05d},nps,{score},"
                f"2024-{1 + i % 12:02d}-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00,comment {i}\n"
            )
    return path


@dataclass(frozen=True)
class Attempt:
    killed_mid_import: bool
    output: list[str]


def run_and_kill(url: str, path: Path, *, phase: str, delay: float, log: Path) -> Attempt:
    """Start the child import, SIGKILL it `delay` s after it reports `phase`."""
    output: list[str] = []
    with log.open("w") as err, subprocess.Popen(
        [sys.executable, "-c", CHILD, url, str(path)], stdout=subprocess.PIPE, stderr=err, text=True,
    ) as child:  # fmt: skip
        assert child.stdout is not None
        try:
            for line in child.stdout:
                output.append(line.strip())
                if line.startswith(phase):
                    break
            else:
                child.wait(timeout=60)
                pytest.fail(f"child never reached {phase!r}: {output} {log.read_text()}")
            time.sleep(delay)
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=60)
            output += [line.strip() for line in child.stdout]
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
    done = any(line.startswith("done") for line in output)
    return Attempt(child.returncode == -signal.SIGKILL and not done, output)


def assert_all_or_nothing(url: str) -> None:
    with Store(url) as store, store.transaction() as tx:
        stored = tx.scalar("SELECT count(*) FROM survey_responses")
        rejects = tx.scalar("SELECT count(*) FROM _quarantine")
        logs = tx.fetchall('SELECT status, "read", inserted, rejected FROM _imports')
    nothing: tuple[int, int, list[tuple[object, ...]]] = (0, 0, [])
    everything = (VALID, REJECTED, [("ok", ROWS, VALID, REJECTED)])
    assert (stored, rejects, logs) in (nothing, everything)


def assert_still_usable(url: str, folder: Path) -> None:
    small = folder / "after.csv"
    small.write_text("ticket_id,account_id,opened_at\nT1,A1,2024-01-01\n", encoding="utf-8")
    with Store(url) as store:
        (report,) = import_file(store, Settings(), small, ImportOptions(table="tickets"))
        assert report.inserted == 1


@pytest.mark.slow
@pytest.mark.parametrize(("phase", "delay"), [("validating", 0.4), ("merging", 0.15)])
def test_killed_import_leaves_all_or_nothing(
    backend: Backend, big_csv: Path, tmp_path: Path, phase: str, delay: float
) -> None:
    for attempt_delay in (delay, delay / 4, 0.0):
        url = backend.new_url()
        child_url = backend.child_url(url)
        attempt = run_and_kill(child_url, big_csv, phase=phase, delay=attempt_delay,
                               log=tmp_path / "child.err")  # fmt: skip
        backend.reap_children(child_url)
        assert_all_or_nothing(url)
        if attempt.killed_mid_import:
            assert_still_usable(url, tmp_path)
            return
    pytest.fail(f"the import always finished before the kill ({attempt.output})")
