"""Program commands (DESIGN §7-8): the ask ledger, rewards, consent and erasure."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from advocacy.cli.output import Format, emit, stderr
from advocacy.errors import UserError
from advocacy.program.instants import zoned_text

AT_HELP = "when: ISO time (without an offset, in the business time zone) or a date; default now"
FormatOpt = Annotated[Format, typer.Option("--format", help="table, json or csv")]
asks_app = typer.Typer(
    help="The ledger of every ask, its outcomes and the policy behind it.", no_args_is_help=True
)
rewards_app = typer.Typer(help="Rewards given to advocates.", no_args_is_help=True)
contacts_app = typer.Typer(help="Consent of contacts.", no_args_is_help=True)


@asks_app.command("create")
def asks_create(
    ctx: typer.Context,
    ask_type: Annotated[str, typer.Option("--type", help="review, case_study, …, survey")],
    contact: Annotated[str | None, typer.Option("--contact", help="the contact asked")] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="the account, when no contact")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="when: ISO time (without an offset, the business time zone's wall time) or a "
            "date (its local start); default now",
        ),
    ] = None,
    trigger: Annotated[str | None, typer.Option("--trigger", help="what prompted the ask")] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="who asks")] = None,
    override: Annotated[
        bool, typer.Option("--override", help="ask despite the policy (audited)")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="why the override is justified")
    ] = None,
) -> None:
    """Check the policy and record an ask; a refusal names the rule and when the contact is eligible."""
    if (contact is None) == (account is None):
        raise typer.BadParameter("give exactly one of --contact or --account")
    with ctx.obj.open() as ws:
        record = ws.create_ask(
            ask_type=ask_type, contact=contact, account=account, at=at, trigger=trigger,
            owner=owner, override=override, reason=reason,
        )  # fmt: skip
        tz = ws.settings.calendar.timezone
    who = f"contact {record.contact_id}" if record.contact_id else f"account {record.account_id}"
    typer.echo(
        f"{record.ask_id}: {record.ask_type} ask to {who} recorded at {zoned_text(record.asked_at, tz)}"
    )
    if record.overridden:
        rules = ", ".join(b.rule for b in record.blockers)
        stderr.print(f"[yellow]override of {rules} recorded in the audit log[/yellow]")


@asks_app.command("outcome")
def asks_outcome(
    ctx: typer.Context,
    ask_id: Annotated[str, typer.Argument(help="the ask")],
    status: Annotated[
        str, typer.Option("--status", help="accepted, declined, completed, expired, withdrawn")
    ],
    at: Annotated[str | None, typer.Option("--at", help=AT_HELP)] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="the advocacy action it led to")
    ] = None,
    note: Annotated[
        str | None, typer.Option("--note", help="a note (erased with the contact)")
    ] = None,
) -> None:
    """Append an outcome to an ask (the ledger is append-only)."""
    with ctx.obj.open() as ws:
        row = ws.record_outcome(ask_id, status=status, at=at, action=action, note=note)
        tz = ws.settings.calendar.timezone
    typer.echo(f"{ask_id}: outcome {row['seq']} {row['status']} at {zoned_text(row['at'], tz)}")


@asks_app.command("list")
def asks_list(
    ctx: typer.Context,
    contact: Annotated[
        str | None, typer.Option("--contact", help="only this contact's asks")
    ] = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Asks with their latest outcome, oldest first."""
    with ctx.obj.open() as ws:
        frame = ws.list_asks(contact=contact)
    emit(frame, fmt, title="Asks")


@asks_app.command("expire")
def asks_expire(
    ctx: typer.Context,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="expire as of the end of this day")
    ] = None,
) -> None:
    """Record `expired` for unanswered asks past expires_at or policy.ask_expiry_days."""
    with ctx.obj.open() as ws:
        n = ws.expire_asks(as_of=as_of)
    typer.echo(f"{n} ask(s) expired")


@asks_app.command("import")
def asks_import(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="a file of asks (canonical columns), e.g. survey invitations")
    ],
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Bulk-load asks already made (survey invitations): the import path, not policy-checked."""
    with ctx.obj.open() as ws:
        reports = ws.import_files([path], table="asks")
    frame = pd.DataFrame([r.as_dict() for r in reports])
    emit(frame.drop(columns=["warnings"], errors="ignore"), fmt, title="Asks imported")
    for report in reports:
        for warning in report.warnings:
            stderr.print(f"[yellow]warning:[/yellow] {warning}")
    if fmt is Format.TABLE:
        stderr.print("bulk asks are a record of asks already made; the policy is not checked")


@rewards_app.command("add")
def rewards_add(
    ctx: typer.Context,
    account: Annotated[str, typer.Option("--account", help="the account rewarded")],
    reward_type: Annotated[str, typer.Option("--type", help="e.g. gift_card, swag, early_access")],
    kind: Annotated[str, typer.Option("--kind", help="visibility, access or monetary")],
    contact: Annotated[str | None, typer.Option("--contact", help="the person rewarded")] = None,
    value: Annotated[float, typer.Option("--value", help="value in the workspace currency")] = 0.0,
    action: Annotated[
        str | None, typer.Option("--action", help="the advocacy action rewarded")
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help=AT_HELP)] = None,
) -> None:
    """Record a reward; warns when monetary rewards dominate the recent ones."""
    with ctx.obj.open() as ws:
        record = ws.add_reward(account=account, reward_type=reward_type, kind=kind,
                               contact=contact, value=value, action=action, at=at)  # fmt: skip
        tz = ws.settings.calendar.timezone
    typer.echo(f"{record.reward_id}: {kind} reward recorded at {zoned_text(record.given_at, tz)}")
    if record.warning:
        stderr.print(f"[yellow]warning:[/yellow] {record.warning}")


@rewards_app.command("list")
def rewards_list(ctx: typer.Context, fmt: FormatOpt = Format.TABLE) -> None:
    """Every reward, oldest first."""
    with ctx.obj.open() as ws:
        frame = ws.list_rewards()
    emit(frame, fmt, title="Rewards")


@contacts_app.command("opt-out")
def contacts_opt_out(
    ctx: typer.Context, contact: Annotated[str, typer.Argument(help="the contact")]
) -> None:
    """Opt a contact out of advocacy asks; it sticks across later imports."""
    with ctx.obj.open() as ws:
        changed = ws.opt_out(contact)
    typer.echo(f"{contact} {'opted out' if changed else 'was already opted out'}")


def forget_cmd(
    ctx: typer.Context,
    contact: Annotated[str, typer.Option("--contact", help="the contact to erase")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Erase a person everywhere (anonymous rows stay); later imports cannot restore them."""
    if not yes:
        if not stderr.is_terminal:
            raise UserError("forget erases personal data for good: confirm with --yes")
        typer.confirm(f"Erase contact {contact} everywhere? This cannot be undone", abort=True)
    with ctx.obj.open() as ws:
        erasure = ws.forget(contact)
    total = sum(erasure.rows.values())
    typer.echo(f"contact erased: {total} row(s) anonymised; it now appears as {erasure.pseudonym}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `advocacy` app."""
    app.add_typer(asks_app, name="asks")
    app.add_typer(rewards_app, name="rewards")
    app.add_typer(contacts_app, name="contacts")
    app.command("forget")(forget_cmd)
