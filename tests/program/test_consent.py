"""Consent and erasure: opt-outs stick, and a forgotten person is gone from every table, stays
gone after re-imports, while anonymous aggregates do not move."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from advocacy.errors import UserError
from advocacy.program.ledger import AskInput, create_ask, record_outcome
from advocacy.workspace import Workspace, init_workspace, open_workspace
from tests.cli import ADVOCACY
from tests.conftest import Backend

PERSON = {"id": "cust-ALICE-77", "email": "Alice.Wonder@Example.org", "name": "Alice Wonder"}
TRACES = ("cust-alice-77", "alice.wonder@example.org", "alice wonder")


def _files(folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    files = {
        "accounts": "account_id,created_at\nA1,2024-01-01\nA2,2024-01-01\n",
        "contacts": (
            "contact_id,account_id,email,name,title\n"
            f"{PERSON['id']},A1,{PERSON['email']},{PERSON['name']},VP Ops\n"
            "bob-1,A1,bob@example.org,Bob Stone,CTO\n"
            "carol-2,A2,carol@example.org,Carol Reed,CEO\n"
            # A CRM duplicate of the person (same email, another id): blanked by the email hash.
            f"dup-9,A1,{PERSON['email'].upper()},{PERSON['name']},x\n"
        ),
        "survey_responses": (
            "response_id,account_id,contact_id,survey,score,responded_at,comment\n"
            f"r1,A1,{PERSON['id']},nps,10,2025-02-03,Great - {PERSON['name']}\n"
            f"r2,A1,{PERSON['id']},nps,4,2025-05-03,slow support\n"
            "r3,A1,bob-1,nps,8,2025-02-04,ok\n"
            "r4,A2,carol-2,nps,2,2025-02-05,bad\n"
            f"r5,A1,{PERSON['id']},nps,99,2025-02-06,out of range\n"
        ),
    }
    paths = {}
    for table, text in files.items():
        path = folder / f"{table}.csv"
        path.write_text(text)
        paths[table] = path
    bad = folder / "contacts_bad.csv"
    bad.write_text(
        "contact_id,account_id,email,name,advocacy_opt_out\n"
        f"{PERSON['id']},A1,{PERSON['email']},{PERSON['name']},maybe\n"
    )
    paths["contacts_bad"] = bad
    return paths


def _load(ws: Workspace, paths: dict[str, Path]) -> None:
    for table in ("accounts", "contacts", "survey_responses"):
        ws.import_files([paths[table]], table=table)
    ws.import_files([paths["contacts_bad"]], table="contacts")
    changed = paths["contacts"].parent / "contacts_v2.csv"
    changed.write_text(paths["contacts"].read_text().replace("VP Ops", "COO"))
    ws.import_files([changed], table="contacts")  # a revision keeps the previous version
    conflicting = paths["survey_responses"].parent / "responses_v2.csv"
    conflicting.write_text(paths["survey_responses"].read_text().replace(",10,", ",9,"))
    ws.import_files([conflicting], table="survey_responses")  # a conflict keeps the incoming row


def _everything(ws: Workspace) -> str:
    """All text of every table, canonical and internal, lower-cased."""
    tables = ws.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )["table_name"]
    return "\n".join(ws.query(f'SELECT * FROM "{t}"').astype(str).to_csv() for t in tables).lower()


def _nps(ws: Workspace) -> pd.DataFrame:
    frame = ws.metrics(
        "nps", period="quarter", start="2025-01-01", end="2025-07-01", as_of="2025-12-31"
    )
    return frame[["period_label", "value", "numerator", "denominator", "n"]].reset_index(drop=True)


def test_forget_erases_everywhere_sticks_and_keeps_aggregates(
    backend: Backend, tmp_path: Path
) -> None:
    url = backend.new_url()
    paths = _files(tmp_path / "files")
    with init_workspace(tmp_path / "ws", db=url) as ws:
        _load(ws, paths)
        ask = create_ask(
            ws.store,
            ws.settings,
            AskInput("review", contact_id=PERSON["id"], at=datetime(2025, 3, 1)),
        )
        record_outcome(ws.store, ws.settings, ask_id=ask.ask_id, status="declined", at="2025-03-02",
                       note=f"{PERSON['name']} is on leave")  # fmt: skip
        create_ask(ws.store, ws.settings, AskInput("case_study", contact_id=PERSON["id"], at=datetime(2025, 3, 3)),
                   override=True, reason=f"{PERSON['name']} volunteered")  # fmt: skip
        ws.add_reward(
            account="A1",
            contact=PERSON["id"],
            reward_type="swag",
            kind="visibility",
            at="2025-03-04",
        )
        before = _nps(ws)
        text = _everything(ws)
        assert all(trace in text for trace in TRACES)  # the check below can fail
        assert len(ws.rejects()) >= 2

        erasure = ws.forget(PERSON["id"])
        assert erasure.rows["survey_responses"] == 2
        assert erasure.rows["asks"] == 2
        text = _everything(ws)
        assert [t for t in TRACES if t in text] == []
        pd.testing.assert_frame_equal(_nps(ws), before)
        with pytest.raises(UserError, match="unknown contact"):
            ws.forget(PERSON["id"])

        # Re-importing the original files brings nothing back, and says how many rows it blanked.
        contacts = ws.import_files([paths["contacts"]], table="contacts")[0]
        responses = ws.import_files([paths["survey_responses"]], table="survey_responses")[0]
        assert contacts.inserted == 0
        assert responses.inserted == 0
        assert "2 row(s) of erased contacts" in " ".join(contacts.warnings)  # id + email match
        assert "3 row(s) of erased contacts" in " ".join(responses.warnings)
        text = _everything(ws)
        assert [t for t in TRACES if t in text] == []
        pd.testing.assert_frame_equal(_nps(ws), before)
        counts = ws.query("SELECT count(*) AS n FROM contacts")["n"].tolist()
        assert counts == [4]  # the person's row is kept, under the pseudonym; dup-9 is blanked


def test_duckdb_file_holds_no_trace_after_forget(tmp_path: Path) -> None:
    paths = _files(tmp_path / "files")
    with init_workspace(tmp_path / "ws") as ws:
        _load(ws, paths)
        ws.forget(PERSON["id"])
    raw = b"".join(p.read_bytes() for p in (tmp_path / "ws").glob("advocacy.duckdb*")).lower()
    assert raw  # the file exists
    assert [t for t in TRACES if t.encode() in raw] == []


def test_cli_opt_out_sticks_and_forget_asks_for_confirmation(tmp_path: Path) -> None:
    paths = _files(tmp_path / "files")
    folder = tmp_path / "ws"
    with init_workspace(folder) as ws:
        _load(ws, paths)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ADVOCACY, "--workspace", str(folder), *args], capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip

    out = cli("contacts", "opt-out", "bob-1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "bob-1 opted out"
    assert cli("contacts", "opt-out", "nobody").returncode == 1
    unconfirmed = cli("forget", "--contact", PERSON["id"])
    assert unconfirmed.returncode == 1
    assert "--yes" in unconfirmed.stderr
    done = cli("forget", "--contact", PERSON["id"], "--yes")
    assert done.returncode == 0, done.stderr
    assert "anonymised" in done.stdout
    assert PERSON["id"] not in done.stdout
    with open_workspace(folder) as ws:
        ws.import_files([paths["contacts"]], table="contacts")  # says advocacy_opt_out = false
        opted = ws.query(
            "SELECT contact_id, advocacy_opt_out FROM contacts WHERE contact_id = 'bob-1'"
        )
        audit = ws.query("SELECT action, target, detail FROM _audit ORDER BY happened_at")
    assert opted["advocacy_opt_out"].tolist() == [True]
    assert audit["action"].tolist() == ["opt_out", "forget"]
    detail: dict[str, Any] = json.loads(audit["detail"].iloc[1])
    assert detail["rows"]["contacts"] == 1
