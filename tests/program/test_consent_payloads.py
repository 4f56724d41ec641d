"""Erasure reaches the JSON copies of rows (conflicts, quarantined raw rows with a
numeric id) and sticks when the person comes back under a new id with the forgotten email; on
DuckDB and, when configured, PostgreSQL (the `backend` fixture)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from advocacy.ingest.suppress import pseudonym
from advocacy.workspace import Workspace, init_workspace
from tests.conftest import Backend

PERSON = "4242"
TRACES = ("dora.explorer@example.org", "dora explorer", "chief secret officer", "555-0199",
          "numeric trace", "second life")  # fmt: skip


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _everything(ws: Workspace) -> str:
    tables = ws.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )["table_name"]
    return "\n".join(ws.query(f'SELECT * FROM "{t}"').astype(str).to_csv() for t in tables).lower()


def _load(ws: Workspace, folder: Path) -> None:
    files = [
        ("accounts", "accounts.csv", "account_id,created_at\nA1,2024-01-01\n"),
        (
            "contacts",
            "contacts.csv",
            f"contact_id,account_id,email,name,title\n{PERSON},A1,Dora.Explorer@example.org,"
            "Dora Explorer,Chief Secret Officer\nbob-1,A1,bob@example.org,Bob Stone,CTO\n",
        ),
        (
            "survey_responses",
            "responses.csv",
            "response_id,account_id,contact_id,survey,score,responded_at,comment\n"
            f"r1,A1,{PERSON},nps,9,2025-02-03,call my cell 555-0199\n"
            "r2,A1,bob-1,nps,7,2025-02-04,fine\n",
        ),
        # Another score for r1: a conflict keeps the incoming row, comment included.
        (
            "survey_responses",
            "responses_v2.csv",
            "response_id,account_id,contact_id,survey,score,responded_at,comment\n"
            f"r1,A1,{PERSON},nps,8,2025-02-03,call my cell 555-0199\n",
        ),
    ]
    for table, name, text in files:
        ws.import_files([_write(folder, name, text)], table=table)
    # The id as a JSON number, in a row quarantined for its score.
    row = {"response_id": "r3", "account_id": "A1", "contact_id": int(PERSON), "survey": "nps",
           "score": 99, "responded_at": "2025-02-05", "comment": "numeric trace"}  # fmt: skip
    ws.import_files([_write(folder, "responses.ndjson", json.dumps(row) + "\n")],
                    table="survey_responses")  # fmt: skip


def test_forget_scrubs_payloads_and_follows_a_new_id_with_the_same_email(
    backend: Backend, tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    with init_workspace(tmp_path / "ws", db=backend.new_url()) as ws:
        _load(ws, folder)
        text = _everything(ws)
        assert [t for t in TRACES[:-1] if t not in text] == []  # the checks below can fail
        assert len(ws.query("SELECT * FROM _conflicts")) >= 1

        alias = ws.forget(PERSON).pseudonym
        text = _everything(ws)
        assert [t for t in TRACES if t in text] == []
        conflicts = ws.query("SELECT incoming FROM _conflicts")["incoming"].map(json.loads)
        mine = [c for c in conflicts if c.get("response_id") == "r1"]
        assert [(c["contact_id"], c["comment"], c["score"]) for c in mine] == [(alias, None, 8)]
        raw = ws.query("SELECT raw, reason FROM _quarantine WHERE table_name = 'survey_responses'")
        assert raw["raw"].isna().all()
        assert set(raw["reason"]) == {"a row of an erased contact"}

        # Back under a new id with the forgotten email: that id is suppressed in the same import,
        # so the survey comment under it, imported later, is anonymised too.
        ws.import_files([_write(folder, "contacts_new.csv",
                                "contact_id,account_id,email,name\n"
                                "5151,A1,DORA.EXPLORER@example.org ,Dora Explorer\n")],
                        table="contacts")  # fmt: skip
        ws.import_files([_write(folder, "responses_new.csv",
                                "response_id,account_id,contact_id,survey,score,responded_at,comment\n"
                                "r9,A1,5151,nps,10,2025-06-01,second life\n")],
                        table="survey_responses")  # fmt: skip
        new_alias = pseudonym(hashlib.sha256(b"5151").hexdigest())
        assert _everything(ws).count("second life") == 0
        got = ws.query(
            "SELECT contact_id, coalesce(comment, '-') AS c FROM survey_responses WHERE response_id = 'r9'"
        )
        assert got.values.tolist() == [[new_alias, "-"]]
        contacts = ws.query(
            "SELECT contact_id, coalesce(email, '-') AS e, coalesce(name, '-') AS n FROM contacts "
            "ORDER BY contact_id"
        )
        assert contacts.values.tolist() == [
            ["bob-1", "bob@example.org", "Bob Stone"],
            [alias, "-", "-"],
            [new_alias, "-", "-"],
        ]
        assert [t for t in TRACES if t in _everything(ws)] == []
