"""`forewarn approvals list|show|approve|reject`: the console's decisions from a terminal.

`approve`/`reject --incident ID --version N [--channel C] [--language L]` decide every held draft of
one incident version at once (each still gets its own approval record), with a progress bar.

Talks to a running worker's HTTP API (FOREWARN_WEB_HOST/PORT) with FOREWARN_CONSOLE_TOKEN, so a
decision made here is published and acted on exactly like one made in the browser console.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
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


def _batch(action: str, body: dict[str, Any]) -> dict[str, Any]:
    """Decide a batch through the worker, showing its progress (it answers in JSON lines as it publishes)."""
    settings = Settings.from_env()
    if not settings.console_token:
        raise click.ClickException("set FOREWARN_CONSOLE_TOKEN to the worker's console token")
    url = f"http://{settings.web_host}:{settings.web_port}/api/approval-batches/{action}"
    headers = {"Authorization": f"Bearer {settings.console_token}"}
    try:
        with httpx.stream("POST", url, json=body, headers=headers, timeout=httpx.Timeout(30, read=300)) as response:
            if response.status_code >= 400:
                response.read()
                data = (
                    response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
                )
                verdicts = "".join(f"\n  - {v}" for v in data.get("verdicts", []))
                raise click.ClickException(f"{response.status_code}: {data.get('error', response.text)}{verdicts}")
            return _follow(response.iter_lines())
    except httpx.HTTPError as exc:
        raise click.ClickException(f"cannot reach the worker at {url}: {exc}") from exc


def _follow(lines: Iterator[str]) -> dict[str, Any]:
    plan = json.loads(next(lines))
    for batch in plan["batches"]:
        review = f", {batch['review']} for one-by-one review" if batch["review"] else ""
        click.echo(f"  {batch['batch']}: {batch['ready']} ready{review} (sample {batch['sample']})")
    for name, verdicts in plan["refused"].items():
        click.echo(f"  refused {name}: " + "; ".join(verdicts))
    last: dict[str, Any] = {}
    with click.progressbar(length=plan["total"], label="deciding", file=click.get_text_stream("stderr")) as bar:
        done = 0
        for line in lines:
            last = json.loads(line)
            if "error" in last:
                raise click.ClickException(str(last["error"]))
            bar.update(int(last["decided"]) - done)
            done = int(last["decided"])
    if not last.get("done"):
        raise click.ClickException(f"the worker stopped after {last.get('decided', 0)} of {plan['total']} drafts")
    return {**plan, **last}


def _selection(incident: str | None, version: int | None, channel: str | None, language: str | None) -> dict[str, Any]:
    if incident is None or version is None:
        raise click.UsageError("give an APPROVAL_ID, or --incident and --version for all of that version's drafts")
    body: dict[str, Any] = {"incident_id": incident, "version": version}
    if channel:
        body["channel"] = channel
    if language:
        body["language"] = language
    return body


def _batch_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--language", default=None, help="With --incident: only drafts in this language.")(command)
    command = click.option("--channel", default=None, help="With --incident: only drafts for this channel.")(command)
    command = click.option("--version", type=int, default=None, help="With --incident: the incident version.")(command)
    return click.option(
        "--incident", default=None, help="Decide every held draft of this incident version at once (with --version)."
    )(command)


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
@click.argument("approval_id", required=False)
@click.option(
    "--edit",
    "edit_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Send this text instead (first line 'Subject: ...' replaces an email subject).",
)
@click.option("--approver", default=None, help="Who approves (default: your login name).")
@_batch_options
def approve(
    approval_id: str | None,
    edit_file: Path | None,
    approver: str | None,
    incident: str | None,
    version: int | None,
    channel: str | None,
    language: str | None,
) -> None:
    """Approve a held draft (optionally edited) and send it; or, with --incident and --version,
    every held draft of that version (one sample per channel and language is rechecked)."""
    if approval_id is None:
        if edit_file is not None:
            raise click.UsageError("--edit changes one draft: give its APPROVAL_ID")
        batch = {**_selection(incident, version, channel, language), "approver": _approver(approver)}
        done = _batch("approve", batch)
        left = f"; {done['left_for_review']} left for one-by-one review" if done["left_for_review"] else ""
        click.echo(f"{done['decided']} drafts approved by {batch['approver']}{left}")
        return
    if incident is not None:
        raise click.UsageError("give an APPROVAL_ID or --incident, not both")
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
@click.argument("approval_id", required=False)
@click.option("--reason", default="", help="Why it must not be sent.")
@click.option("--approver", default=None, help="Who rejects (default: your login name).")
@_batch_options
def reject(
    approval_id: str | None,
    reason: str,
    approver: str | None,
    incident: str | None,
    version: int | None,
    channel: str | None,
    language: str | None,
) -> None:
    """Reject a held draft: it is never sent. With --incident and --version: every held draft of that version."""
    if approval_id is None:
        body = {**_selection(incident, version, channel, language), "approver": _approver(approver), "reason": reason}
        done = _batch("reject", body)
        click.echo(f"{done['decided']} drafts rejected by {body['approver']}")
        return
    if incident is not None:
        raise click.UsageError("give an APPROVAL_ID or --incident, not both")
    a = _call("POST", f"/api/approvals/{approval_id}/reject", {"approver": _approver(approver), "reason": reason})
    click.echo(json.dumps({"approval_id": a["approval_id"], "status": a["status"]}))
