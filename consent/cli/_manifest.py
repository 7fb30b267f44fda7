"""``consent manifest export`` (a compiler, online) and ``consent manifest verify`` (anyone,
offline with the log's key): the signed list a receiving government can check
(docs/MANIFEST.md)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated, Any

import typer

from consent import ConsentError, ManifestInvalid, canonical_bytes, parse_json_strict
from consent import verify_manifest as check_manifest
from consent.cli._auth import _prompt_code
from consent.cli._common import (
    AsOfOption,
    DestinationOption,
    DocumentsOption,
    FamilyOption,
    JsonOption,
    PardonOption,
    TransferOption,
    client,
    context_body,
)
from consent.cli._errors import CliError, UsageError
from consent.cli._http import ApiError
from consent.cli._ui import emit_json, out

__all__ = ["manifest_app", "register"]

manifest_app = typer.Typer(no_args_is_help=True, help="Signed manifests: export (compilers) "
                           "and verify offline (anyone with the log's key).")


def _person_ids(ids: list[str], from_csv: Path | None) -> list[str]:
    chosen = list(ids)
    if from_csv is not None:
        try:
            text = from_csv.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError("The list file could not be read as UTF-8 CSV.") from exc
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if reader.fieldnames is None or "person_id" not in reader.fieldnames:
            raise UsageError("The list file needs a 'person_id' column.")
        for row in reader:
            if (row.get("eligible") or "yes").strip().lower() in ("yes", "true", "1"):
                value = (row.get("person_id") or "").strip()
                if value:
                    chosen.append(value)
    if not chosen:
        raise UsageError("Name the persons: as arguments, or with --from a CSV file with a "
                         "'person_id' column.")
    return chosen


@manifest_app.command("export")
def manifest_export(
    ctx: typer.Context,
    destination: DestinationOption,
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Where to write the manifest.",
                                           dir_okay=False)],
    person_ids: Annotated[list[str] | None, typer.Argument(
        help="Person ids to list (or use --from).")] = None,
    from_csv: Annotated[Path | None, typer.Option(
        "--from", help="A CSV with a 'person_id' column, e.g. from 'consent eligible --csv' "
        "(rows whose 'eligible' column is 'no' are left out).", exists=True,
        dir_okay=False)] = None,
    transfer: TransferOption = "exchange",
    requires_pardon_petition: PardonOption = False,
    documents_returned: DocumentsOption = False,
    family_may_accompany: FamilyOption = False,
    as_of: AsOfOption = None,
) -> None:
    """Get a signed manifest of these persons (needs a fresh authenticator code).

    Refused as a whole unless every one of them is eligible."""
    context = context_body(transfer, destination, requires_pardon_petition, documents_returned,
                           family_may_accompany, as_of)
    ids = _person_ids(list(person_ids or []), from_csv)
    api = client(ctx)
    code = _prompt_code("A fresh code from the authenticator app", "CONSENT_TOTP_CODE")
    try:
        answer = api.request("POST", "/lists/manifest",
                             json_body={"context": context, "person_ids": ids, "code": code})
    except ApiError as exc:
        if exc.status in (404, 405):
            raise CliError("This server does not issue signed manifests yet.") from exc
        raise
    try:
        data = canonical_bytes(parse_json_strict(answer.body))
    except ConsentError as exc:
        raise CliError("The server's manifest is not valid JSON.") from exc
    out_file.write_bytes(data + b"\n")
    out(f"Wrote a signed manifest of {len(ids)} person(s) to {out_file}.")
    out("Anyone can check it offline: consent manifest verify "
        f"{out_file} --key <the log's verifier key>")


@manifest_app.command("verify")
def manifest_verify(
    file: Annotated[Path, typer.Argument(help="The manifest file.", exists=True,
                                         dir_okay=False)],
    key: Annotated[str, typer.Option(
        "--key", help="The log's verifier key (`name+keyid+key`), or a file holding it.")],
    as_json: JsonOption = False,
) -> None:
    """Verify a manifest offline, one line per person.

    Exit 0 if everything holds, 1 naming the first failure, 2 on usage errors."""
    from consent.cli._audit import load_verifier

    vkey = load_verifier(key).vkey
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise UsageError("The manifest could not be read.") from exc
    try:
        report = check_manifest(data, vkey)
    except ManifestInvalid as exc:
        if as_json:
            emit_json({"ok": False, "failure": exc.message})
        raise CliError(f"The manifest does NOT verify: {exc.message}") from exc
    if as_json:
        emit_json(_report_json(report))
    else:
        out(f"Manifest for {report.context.transfer} to {report.context.destination} as of "
            f"{report.as_of}, policy {report.policy_id} v{report.policy_version}, log "
            f"{report.origin} at size {report.checkpoint_size}:")
        for line in report.lines():
            out(f"  {line}")
    if not report.ok:
        raise CliError(f"The manifest does NOT verify: {report.first_failure}")
    if not as_json:
        out(f"Verified: all {len(report.persons)} person(s) hold.")


def _report_json(report: Any) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "origin": report.origin,
        "checkpoint_size": report.checkpoint_size,
        "issued_at": report.issued_at,
        "as_of": report.as_of.isoformat(),
        "policy": {"id": report.policy_id, "version": report.policy_version,
                   "sha256": report.policy_sha256},
        "persons": [{"index": p.index, "person_id": p.person_id, "full_name": p.full_name,
                     "birth_date": p.birth_date, "ok": p.ok, "problem": p.problem,
                     "deciding_statement_id": p.deciding_statement_id}
                    for p in report.persons],
    }


def register(app: typer.Typer) -> None:
    app.add_typer(manifest_app, name="manifest", rich_help_panel="Compiler")

