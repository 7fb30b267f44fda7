"""Advocates: ``consent keys …``, ``consent persons …``, ``consent record``,
``consent corroborate``.

Statements are built and signed here, on the advocate's machine, with the key in the local
keystore; the server only verifies and stores them (DESIGN principle 3). Before anything is
signed, the exact statement is shown and the advocate is asked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent import (
    ConsentError,
    Envelope,
    build_payload,
    sha256_hex,
    sign_envelope,
    sign_existing,
)
from consent._keystore import generate_signing_key, load_keystore, read_public, save_keystore
from consent._statement import CHANNELS, POSITIONS
from consent.cli._common import (
    AsOfOption,
    DestinationOption,
    DocumentsOption,
    FamilyOption,
    JsonOption,
    PardonOption,
    TransferOption,
    YesOption,
    client,
    context_body,
    parse_date,
    state,
)
from consent.cli._config import State, write_private
from consent.cli._errors import CliError, UsageError
from consent.cli._http import ApiError, Client
from consent.cli._ui import confirm, emit_json, err, kv, out, prompt_secret, table

__all__ = ["describe_statement", "keys_app", "persons_app", "register"]

keys_app = typer.Typer(no_args_is_help=True, help="Your signing key (advocates).")
persons_app = typer.Typer(no_args_is_help=True, help="Register and find persons (advocates).")

KeystoreOption = Annotated[Path | None, typer.Option(
    "--keystore", envvar="CONSENT_KEYSTORE",
    help="The keystore file (default: `keys/PROFILE.json` in the config directory).")]

_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

ReceiptOutOption = Annotated[Path | None, typer.Option(
    "--receipt-out", help="Where to save the receipt (default: the config directory).")]


def _keystore_path(current: State, option: Path | None) -> Path:
    return option if option is not None else current.keystore_path


def unlock(current: State, option: Path | None) -> Ed25519PrivateKey:
    path = _keystore_path(current, option)
    if not path.exists():
        raise CliError("No signing key here yet: run 'consent keys generate' first.")
    passphrase = prompt_secret("Keystore passphrase", "CONSENT_PASSPHRASE")
    try:
        return load_keystore(path, passphrase)
    except ConsentError as exc:
        raise CliError(exc.message) from exc


# -- keys -----------------------------------------------------------------------------------

@keys_app.command("generate")
def keys_generate(ctx: typer.Context, keystore: KeystoreOption = None) -> None:
    """Make a new Ed25519 signing key, sealed under a passphrase on this machine."""
    path = _keystore_path(state(ctx), keystore)
    if path.exists():
        raise CliError(f"A keystore already exists at {path}; a signing key is never "
                       "overwritten.")
    passphrase = prompt_secret("Choose a passphrase for the key", "CONSENT_PASSPHRASE",
                               confirm_it=True)
    if len(passphrase) < 8:
        raise UsageError("The passphrase must have at least 8 characters.")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        save_keystore(path, generate_signing_key(), passphrase)
        key_id, _public = read_public(path)
    except ConsentError as exc:
        raise CliError(exc.message) from exc
    out(f"Created signing key {key_id}")
    out(f"  in {path} (keep a backup: a lost key cannot be recovered).")
    out("Register it with: consent keys register")


@keys_app.command("register")
def keys_register(ctx: typer.Context, keystore: KeystoreOption = None,
                  as_json: JsonOption = False) -> None:
    """Send your public key to the server; an admin must approve it before it counts."""
    current = state(ctx)
    try:
        _key_id, public = read_public(_keystore_path(current, keystore))
    except ConsentError as exc:
        raise CliError(exc.message) from exc
    key = client(ctx).post("/keys", {"public_key": base64.b64encode(public).decode("ascii")})
    if as_json:
        emit_json(key)
        return
    out(f"Registered key {key['key_id']} ({key['state']}).")
    out("An admin must approve it before your signatures count.")


@keys_app.command("list")
def keys_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Your keys on the server and their state."""
    keys = client(ctx).get("/keys")
    if as_json:
        emit_json(keys)
        return
    table(["key id", "state", "registered"], [(k["key_id"], k["state"], k["registered_at"])
                                               for k in keys])


@keys_app.command("show")
def keys_show(ctx: typer.Context, keystore: KeystoreOption = None) -> None:
    """The key id and public key in your local keystore (no passphrase needed)."""
    path = _keystore_path(state(ctx), keystore)
    try:
        key_id, public = read_public(path)
    except ConsentError as exc:
        raise CliError(exc.message) from exc
    kv({"key id": key_id, "public key": base64.b64encode(public).decode("ascii"),
        "keystore": path})


# -- persons --------------------------------------------------------------------------------

def _person_line(person: dict[str, Any]) -> str:
    born = f", born {person['birth_date']}" if person.get("birth_date") else ""
    return f"{person['full_name']}{born}"


def _person_rows(persons: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(p["id"], p["full_name"], p.get("birth_date") or "-", p["status"]) for p in persons]


@persons_app.command("add")
def persons_add(
    ctx: typer.Context,
    full_name: Annotated[str, typer.Argument(help="Full name, as in official documents.")],
    birth_date: Annotated[str | None, typer.Option("--birth-date", help="YYYY-MM-DD.")] = None,
    alias: Annotated[list[str] | None, typer.Option(
        "--alias", help="Another spelling or name (repeatable).")] = None,
    location: Annotated[str | None, typer.Option(help="Where they are held.")] = None,
    status: Annotated[str, typer.Option(
        help="imprisoned, released, deceased or unknown.")] = "imprisoned",
    as_json: JsonOption = False,
) -> None:
    """Register a person."""
    day = parse_date(birth_date, "birth date")
    api = client(ctx)
    body = {"full_name": full_name, "birth_date": day.isoformat() if day else None,
            "aliases": list(alias or []), "location": location, "status": status}
    person = api.post("/persons", body)
    if as_json:
        emit_json(person)
        return
    out(f"Registered {_person_line(person)}: {person['id']}")


@persons_app.command("find")
def persons_find(ctx: typer.Context,
                 name: Annotated[str, typer.Argument(help="A name in any script or spelling.")],
                 as_json: JsonOption = False) -> None:
    """Find persons by name (case, accents and Cyrillic/Latin spelling do not matter)."""
    persons = client(ctx).get("/persons", params={"name": name})
    if as_json:
        emit_json(persons)
        return
    if not persons:
        err("Nobody registered matches that name.")
        return
    table(["id", "name", "born", "status"], _person_rows(persons))


@persons_app.command("show")
def persons_show(ctx: typer.Context,
                 person_id: Annotated[str, typer.Argument(help="The person's id.")],
                 as_json: JsonOption = False) -> None:
    """A person and their recorded statements."""
    api = client(ctx)
    person = api.get(f"/persons/{person_id}")
    statements = api.get(f"/persons/{person_id}/statements")
    if as_json:
        emit_json({"person": person, "statements": statements})
        return
    kv({"id": person["id"], "name": person["full_name"], "born": person.get("birth_date"),
        "aliases": ", ".join(person.get("aliases") or []) or None,
        "location": person.get("location"), "status": person["status"],
        "commitment": person["commitment"]})
    if not statements:
        out("No statement recorded.")
        return
    out("")
    table(["stated on", "position", "signatures", "log index", "statement id"],
          [(s["stated_on"], s["position"], len(s["signatures"]), s["log_index"],
            s["statement_id"]) for s in statements])


@persons_app.command("import")
def persons_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(
        help="CSV with a header: full_name (required), birth_date, aliases (';'-separated), "
        "location, status.", exists=True, dir_okay=False, readable=True)],
    as_json: JsonOption = False,
) -> None:
    """Import persons from a CSV file: all or nothing, with a report of every bad row.

    People already registered (same normalised name and birth date) are not added again."""
    data = file.read_bytes()
    try:
        answer = client(ctx).request("POST", "/persons/import", data=data,
                                     content_type="text/csv").json()
    except ApiError as exc:
        rows = exc.body.get("errors") if exc.code == "import_rejected" else None
        if not isinstance(rows, list):
            raise
        if as_json:
            emit_json({"imported": False, "errors": rows})
        else:
            err("The import was refused: no row was imported. Fix these rows and import the "
                "whole file again:")
            for row in rows:
                err(f"  line {row.get('line')}: {row.get('detail')} ({row.get('rule')})")
        raise CliError(f"{len(rows)} bad row(s) in {file.name}; nothing was imported."
                       ) from None
    if as_json:
        emit_json({"imported": True, **answer})
        return
    out(f"Imported {file.name}: {answer['added']} added, {answer['already_present']} "
        "already registered.")


@persons_app.command("statements")
def persons_statements(ctx: typer.Context,
                       person_id: Annotated[str, typer.Argument(help="The person's id.")],
                       as_json: JsonOption = False) -> None:
    """A person's statements, each with its exact signed payload."""
    statements = client(ctx).get(f"/persons/{person_id}/statements")
    if as_json:
        emit_json(statements)
        return
    for stored in statements:
        payload = _payload_of(stored)
        out(f"Statement {stored['statement_id']} (log index {stored['log_index']}, "
            f"{len(stored['signatures'])} signature(s))")
        for line in describe_statement(payload):
            out(f"  {line}")
        out("")


@persons_app.command("eligibility")
def persons_eligibility(
    ctx: typer.Context,
    person_id: Annotated[str, typer.Argument(help="The person's id.")],
    destination: DestinationOption,
    transfer: TransferOption = "exchange",
    requires_pardon_petition: PardonOption = False,
    documents_returned: DocumentsOption = False,
    family_may_accompany: FamilyOption = False,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Whether a person is eligible for a list context, and if not, why."""
    params = context_body(transfer, destination, requires_pardon_petition, documents_returned,
                          family_may_accompany, as_of)
    decision = client(ctx).get(f"/persons/{person_id}/eligibility", params=params)
    if as_json:
        emit_json(decision)
        return
    verdict = "eligible" if decision["eligible"] else "not eligible"
    reasons = ", ".join(decision["reasons"])
    out(f"{verdict}" + (f" ({reasons})" if reasons and not decision["eligible"] else "")
        + f" under policy {decision['policy_id']}.")


# -- statements -----------------------------------------------------------------------------

def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def describe_statement(payload: dict[str, Any], person: dict[str, Any] | None = None
                       ) -> list[str]:
    """The statement in plain words, one line per fact."""
    lines = []
    who = _person_line(person) if person else "person"
    lines.append(f"Person:        {who} ({payload['person']['id']})")
    position = payload["position"]
    words = {
        "consents": "CONSENTS to a transfer, within the scope below",
        "refuses": "REFUSES any exchange or expulsion",
        "withdraws": "WITHDRAWS an earlier consent",
        "retracts": f"RETRACTS the statement {payload.get('retracts')}",
    }
    lines.append(f"Position:      {words.get(position, position)}")
    scope = payload.get("scope")
    if scope:
        destinations = ", ".join(scope["destinations"])
        lines.append(f"Transfers:     {', '.join(scope['transfers'])}")
        lines.append(f"Destinations:  {'any country' if destinations == '*' else destinations}")
        lines.append(f"Accepts petitioning for pardon:      "
                     f"{_yes_no(scope['accepts_pardon_petition'])}")
        lines.append(f"Requires documents returned:         "
                     f"{_yes_no(scope['requires_documents_returned'])}")
        lines.append(f"Requires that family may accompany:  "
                     f"{_yes_no(scope['requires_family_may_accompany'])}")
    lines.append(f"Stated on:     {payload['stated_on']}, by {payload['channel']}")
    evidence = payload.get("evidence") or []
    lines.append(f"Evidence:      {len(evidence)} file(s), by hash only"
                 if evidence else "Evidence:      none")
    for item in evidence:
        lines.append(f"               {item['kind']}: sha256 {item['sha256']}")
    lines.append(f"Duress concern: {_yes_no(payload['duress_concern'])}")
    lines.append(f"Follows:       {payload['previous'] or 'nothing (first statement)'}")
    return lines


def _payload_of(stored: dict[str, Any]) -> dict[str, Any]:
    """The signed payload of a statement from the server, checked against its id."""
    try:
        payload = base64.b64decode(stored["envelope"]["payload"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise CliError("The server sent a malformed statement.") from exc
    if sha256_hex(payload) != stored["statement_id"]:
        raise CliError("The server sent a statement whose content does not match its id.")
    value: dict[str, Any] = json.loads(payload)
    return value


def hash_evidence(specs: Sequence[str]) -> list[dict[str, str]]:
    """``[KIND=]PATH`` to ``{"sha256", "kind"}``; the files never leave this machine."""
    items = []
    for spec in specs:
        kind, sep, rest = spec.partition("=")
        if sep and _KIND.fullmatch(kind):
            path = Path(rest)
        else:
            kind, path = "document", Path(spec)
        try:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
        except OSError as exc:
            raise UsageError(f"The evidence file {path} could not be read.") from exc
        items.append({"sha256": digest.hexdigest(), "kind": kind})
    return items


def _save_receipt(current: State, answer: dict[str, Any], envelope: Envelope,
                  target: Path | None) -> Path:
    path = target or current.receipts_dir / (
        f"{answer['statement_id']}.{answer['log_index']}.receipt")
    write_private(path, str(answer["receipt"]).encode("utf-8"))
    envelope_path = current.receipts_dir / f"{answer['statement_id']}.envelope.json"
    write_private(envelope_path, (json.dumps(envelope.to_json(), indent=2) + "\n").encode())
    return path


def _show_for_signing(payload_bytes: bytes, person: dict[str, Any], key_id: str,
                      what: str, *, to_stderr: bool = False) -> None:
    """The statement in plain words and in its exact bytes (on stderr when stdout is JSON)."""
    payload = json.loads(payload_bytes)
    lines = [f"You are about to {what} with your key {key_id[:16]}…:", ""]
    lines += [f"  {line}" for line in describe_statement(payload, person)]
    lines += ["", f"The exact statement (RFC 8785 JSON; statement id "
              f"{sha256_hex(payload_bytes)}):", payload_bytes.decode("utf-8"), ""]
    for line in lines:
        typer.echo(line, err=to_stderr)


def _scope(transfers: list[str], destinations: list[str], pardon: bool, documents: bool,
           family: bool) -> dict[str, Any]:
    if not transfers:
        raise UsageError("A consent needs at least one --transfer (exchange or expulsion).")
    if not destinations:
        raise UsageError("A consent needs at least one --destination (a country code, or "
                         "'*' for any).")
    return {
        "transfers": transfers,
        "destinations": [d if d == "*" else d.upper() for d in destinations],
        "accepts_pardon_petition": pardon,
        "requires_documents_returned": documents,
        "requires_family_may_accompany": family,
    }


def record(
    ctx: typer.Context,
    person_id: Annotated[str, typer.Argument(help="The person's id.")],
    position: Annotated[str, typer.Option(
        help="consents, refuses, withdraws or retracts.")],
    stated_on: Annotated[str, typer.Option(
        "--stated-on", help="When the person said it (YYYY-MM-DD), not when it is typed in.")],
    channel: Annotated[str, typer.Option(help="How it reached you: " + ", ".join(CHANNELS)
                                         + ".")],
    transfer: Annotated[list[str] | None, typer.Option(
        "--transfer", help="Consents: a transfer agreed to, exchange or expulsion "
        "(repeatable).")] = None,
    destination: Annotated[list[str] | None, typer.Option(
        "--destination", "--to", help="Consents: a destination agreed to, ISO country code "
        "or '*' (repeatable).")] = None,
    accepts_pardon_petition: Annotated[bool, typer.Option(
        "--accepts-pardon-petition", help="Consents: would petition for pardon.")] = False,
    requires_documents_returned: Annotated[bool, typer.Option(
        "--requires-documents-returned",
        help="Consents: only if identity documents are returned.")] = False,
    requires_family_may_accompany: Annotated[bool, typer.Option(
        "--requires-family-may-accompany",
        help="Consents: only if family may come along.")] = False,
    retracts: Annotated[str | None, typer.Option(
        help="Retracts: the id of the statement taken back.")] = None,
    evidence: Annotated[list[str] | None, typer.Option(
        "--evidence", help="[KIND=]FILE: a file backing the statement; only its SHA-256 is "
        "sent (repeatable).")] = None,
    duress_concern: Annotated[bool, typer.Option(
        "--duress-concern", help="You fear the person spoke under coercion.")] = False,
    keystore: KeystoreOption = None,
    receipt_out: ReceiptOutOption = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Record a statement a person made: shown in full, confirmed, signed here, sent."""
    current = state(ctx)
    if position not in POSITIONS:
        raise UsageError("The position must be consents, refuses, withdraws or retracts.")
    if channel not in CHANNELS:
        raise UsageError("The channel must be one of: " + ", ".join(CHANNELS) + ".")
    day = parse_date(stated_on, "--stated-on date")
    assert day is not None
    scope = None
    if position == "consents":
        scope = _scope(list(transfer or []), list(destination or []), accepts_pardon_petition,
                       requires_documents_returned, requires_family_may_accompany)
    elif transfer or destination:
        raise UsageError("Only a consent has transfers and destinations.")
    if (position == "retracts") != (retracts is not None):
        raise UsageError("--retracts STATEMENT_ID goes with --position retracts, and only "
                         "with it.")
    if retracts is not None and not _HEX64.fullmatch(retracts):
        raise UsageError("A statement id is 64 lowercase hex digits.")
    items = hash_evidence(list(evidence or []))
    api = client(ctx)
    person = api.get(f"/persons/{person_id}")
    try:
        key_id, _public = read_public(_keystore_path(current, keystore))
        payload = build_payload(
            person_id=person["id"], commitment=person["commitment"], position=position,
            stated_on=day, channel=channel, previous=person.get("latest_statement_id"),
            scope=scope, retracts=retracts, evidence=items, duress_concern=duress_concern)
    except ConsentError as exc:
        raise CliError(exc.message) from exc
    _show_for_signing(payload, person, key_id, "sign this statement", to_stderr=as_json)
    confirm("Sign it and send it to the server?", assume_yes=yes, to_stderr=as_json)
    envelope = sign_envelope(payload, unlock(current, keystore))
    answer = _send(api, "/statements", envelope.to_json())
    path = _save_receipt(current, answer, envelope, receipt_out)
    if as_json:
        emit_json({**answer, "receipt_path": str(path)})
        return
    out(f"Recorded statement {answer['statement_id']} at log index {answer['log_index']}.")
    out(f"Receipt saved to {path}")


def _send(api: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        answer: dict[str, Any] = api.post(path, body)
    except ApiError as exc:
        if exc.code == "stale_chain":
            raise CliError("Someone recorded a newer statement for this person meanwhile: "
                           "nothing was recorded; look at it and try again.") from exc
        raise
    return answer


def corroborate(
    ctx: typer.Context,
    person_id: Annotated[str, typer.Argument(help="The person's id.")],
    statement_id: Annotated[str | None, typer.Argument(
        help="The statement to corroborate (default: the person's latest).")] = None,
    keystore: KeystoreOption = None,
    receipt_out: ReceiptOutOption = None,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Add your signature to a statement another advocate recorded, after reading it."""
    current = state(ctx)
    api = client(ctx)
    person = api.get(f"/persons/{person_id}")
    statements = api.get(f"/persons/{person_id}/statements")
    wanted = statement_id or person.get("latest_statement_id")
    chosen = next((s for s in statements if s["statement_id"] == wanted), None)
    if chosen is None:
        raise CliError("This person has no such statement.")
    payload_value = _payload_of(chosen)
    if payload_value["person"]["id"] != person["id"] or (
            payload_value["person"]["commitment"] != person["commitment"]):
        raise CliError("The statement is not about this person.")
    envelope = Envelope.from_json(chosen["envelope"])
    try:
        key_id, _public = read_public(_keystore_path(current, keystore))
    except ConsentError as exc:
        raise CliError(exc.message) from exc
    if any(s.keyid == key_id for s in envelope.signatures):
        raise CliError("Your key has already signed this statement.")
    signers = len(chosen["signatures"])
    _show_for_signing(envelope.payload, person, key_id,
                      f"corroborate this statement (signed so far by {signers} key(s))",
                      to_stderr=as_json)
    confirm("Add your signature to it?", assume_yes=yes, to_stderr=as_json)
    signature = sign_existing(envelope, unlock(current, keystore))
    answer = _send(api, f"/statements/{envelope.statement_id}/signatures",
                   signature.to_json())
    path = _save_receipt(current, answer, envelope, receipt_out)
    if as_json:
        emit_json({**answer, "receipt_path": str(path)})
        return
    out(f"Corroborated statement {answer['statement_id']} at log index {answer['log_index']}.")
    out(f"Receipt saved to {path}")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys", rich_help_panel="Advocate")
    app.add_typer(persons_app, name="persons", rich_help_panel="Advocate")
    app.command(rich_help_panel="Advocate")(record)
    app.command(rich_help_panel="Advocate")(corroborate)

