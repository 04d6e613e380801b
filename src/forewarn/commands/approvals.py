"""`forewarn approvals list|show|approve|reject`: the console's decisions from a terminal.

Talks to a running worker's HTTP API (FOREWARN_WEB_HOST/PORT) with FOREWARN_CONSOLE_TOKEN, so a
decision made here is published and acted on exactly like one made in the browser console.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import click
import httpx

from forewarn.config import Settings


def _call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    settings = Settings.from_env()
    if not settings.console_token:
        raise click.ClickException("set FOREWARN_CONSOLE_TOKEN to the worker's console token")
    url = f"http://{settings.web_host}:{settings.web_port}{path}"
    try:
        response = httpx.request(
            method, url, json=body, headers={"Authorization": f"Bearer {settings.console_token}"}, timeout=30
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the worker at {url}: {exc}") from exc
    data = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    if response.status_code >= 400:
        verdicts = "".join(f"\n  - {v}" for v in data.get("verdicts", []))
        raise click.ClickException(f"{response.status_code}: {data.get('error', response.text)}{verdicts}")
    return data


@click.group()
def approvals() -> None:
    """Review drafts held for approval."""


@approvals.command("list")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected", "expired", "all"]), default="pending")
def list_(status: str) -> None:
    """List held drafts (pending by default)."""
    found = _call("GET", "/api/approvals" + ("" if status == "all" else f"?status={status}"))["approvals"]
    for a in found:
        cmd = a["command"]
        click.echo(
            f"{a['approval_id']}  {a['status']:<8} {cmd['severity']} {cmd['channel']:<10} {cmd['customer_id']:<16} "
            f"{cmd['language']}  {a['reason']}"
        )
    click.echo(f"{len(found)} {'' if status == 'all' else status + ' '}approval(s)")


@approvals.command()
@click.argument("approval_id")
def show(approval_id: str) -> None:
    """Show one held draft: why it is held, its verdicts and its full text."""
    a = _call("GET", f"/api/approvals/{approval_id}")
    cmd = a["command"]
    click.echo(f"{a['approval_id']}: {a['status']} — {a['reason']}")
    for verdict in a["verdicts"]:
        click.echo(f"  ! {verdict}")
    click.echo(f"{cmd['severity']} {cmd['channel']} to {cmd['customer_id']} ({cmd['language']})")
    if cmd.get("subject"):
        click.echo(f"Subject: {cmd['subject']}")
    click.echo("")
    click.echo(cmd["text"])


def _approver(approver: str | None) -> str:
    return approver or getpass.getuser()


@approvals.command()
@click.argument("approval_id")
@click.option(
    "--edit",
    "edit_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Send this text instead (first line 'Subject: ...' replaces an email subject).",
)
@click.option("--approver", default=None, help="Who approves (default: your login name).")
def approve(approval_id: str, edit_file: Path | None, approver: str | None) -> None:
    """Approve a held draft (optionally edited) and send it."""
    body: dict[str, Any] = {"approver": _approver(approver)}
    if edit_file is not None:
        text = edit_file.read_text(encoding="utf-8")
        first, _, rest = text.partition("\n")
        if first.startswith("Subject: "):
            body["subject"], text = first[len("Subject: ") :].strip(), rest.lstrip("\n")
        body["text"] = text
    a = _call("POST", f"/api/approvals/{approval_id}/approve", body)
    click.echo(f"{a['approval_id']} approved by {a['approver']}{' (edited)' if a['edited'] else ''}")


@approvals.command()
@click.argument("approval_id")
@click.option("--reason", default="", help="Why it must not be sent.")
@click.option("--approver", default=None, help="Who rejects (default: your login name).")
def reject(approval_id: str, reason: str, approver: str | None) -> None:
    """Reject a held draft: it is never sent."""
    a = _call("POST", f"/api/approvals/{approval_id}/reject", {"approver": _approver(approver), "reason": reason})
    click.echo(json.dumps({"approval_id": a["approval_id"], "status": a["status"]}))
