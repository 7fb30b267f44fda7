"""Auditors: ``consent audit key|checkpoint|dump|verify`` and ``consent receipt verify``.

Verification needs only the log's public key and what it is given: no account, no database,
no network. ``audit dump`` is the one command that fetches (from a server, as an auditor) or
reads a database (on the server's machine).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

import audit
from consent import ConsentError, open_instance
from consent.cli._common import JsonOption, anonymous_client, client, state
from consent.cli._errors import CliError, UsageError
from consent.cli._http import Client
from consent.cli._ui import emit_json, err, kv, out, progress

__all__ = ["audit_app", "receipt_app", "register", "verify_dump"]

audit_app = typer.Typer(no_args_is_help=True, help="Fetch, dump and verify the transparency "
                        "log (auditors; verification needs no account).")
receipt_app = typer.Typer(no_args_is_help=True, help="Check a receipt for a recorded "
                          "statement, offline.")

PAGE = 1000  # the service's largest page of entries

KeyOption = Annotated[str, typer.Option(
    "--key", help="The log's verifier key (`name+keyid+key`), or a file holding it.")]


def load_verifier(key: str) -> audit.Verifier:
    text = key
    path = Path(key)
    try:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError("The key file could not be read.") from exc
    try:
        return audit.Verifier.from_vkey(text.strip())
    except audit.AuditError as exc:
        raise UsageError("The verifier key is not in the form <name>+<hex id>+<base64 key>."
                         ) from exc


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise UsageError(f"The {what} {path} could not be read.") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"The {what} is not UTF-8 text.") from exc


def _root(checkpoint: audit.Checkpoint) -> str:
    return base64.b64encode(checkpoint.root_hash).decode("ascii")


# -- key and checkpoint ---------------------------------------------------------------------

ServerOption = Annotated[str | None, typer.Option(
    "--server", help="The service's address (default: the profile's).")]


@audit_app.command("key")
def audit_key(ctx: typer.Context, server: ServerOption = None) -> None:
    """Print the log's verifier key as the server publishes it.

    Compare it with one obtained independently before trusting it."""
    out(anonymous_client(ctx, server).get_text("/audit/key", auth=False).strip())


@audit_app.command("checkpoint")
def audit_checkpoint(
    ctx: typer.Context,
    key: Annotated[str | None, typer.Option(
        "--key", help="Verify the checkpoint with this verifier key (or key file).")] = None,
    trusted: Annotated[Path | None, typer.Option(
        "--trusted", help="An earlier checkpoint: prove the log only grew since (needs --key).",
        exists=True, dir_okay=False)] = None,
    save: Annotated[Path | None, typer.Option(
        "--out", help="Save the signed checkpoint here, verbatim.")] = None,
    server: ServerOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fetch the latest signed checkpoint; verify it, and its consistency with an older one."""
    api = anonymous_client(ctx, server)
    note = api.get_text("/audit/checkpoint", auth=False)
    if save is not None:
        save.write_bytes(note.encode("utf-8"))
    if key is None:
        if trusted is not None:
            raise UsageError("--trusted needs --key.")
        if as_json:
            emit_json({"checkpoint": note, "verified": False})
        else:
            out(note.rstrip("\n"))
            err("Not verified: pass --key with the log's verifier key to check it.")
        return
    verifier = load_verifier(key)
    try:
        checkpoint = audit.open_checkpoint(note, verifier)
    except audit.AuditError as exc:
        raise CliError("The server's checkpoint is not validly signed by this key.") from exc
    result: dict[str, Any] = {"origin": checkpoint.origin, "size": checkpoint.size,
                              "root": _root(checkpoint), "verified": True}
    if trusted is not None:
        old = _open_trusted(trusted, verifier, checkpoint.origin)
        _check_consistency(api, old, checkpoint)
        result["consistent_with"] = {"size": old.size, "root": _root(old)}
    if as_json:
        emit_json(result)
        return
    kv({"origin": checkpoint.origin, "size": checkpoint.size, "root": result["root"]})
    out("The checkpoint is validly signed by the log's key.")
    if trusted is not None:
        out(f"The log at size {checkpoint.size} extends the trusted checkpoint of size "
            f"{result['consistent_with']['size']}: nothing before it was changed.")


def _open_trusted(path: Path, verifier: audit.Verifier, origin: str) -> audit.Checkpoint:
    try:
        return audit.open_checkpoint(_read_text(path, "trusted checkpoint"), verifier,
                                     origin=origin)
    except audit.AuditError as exc:
        raise CliError("The trusted checkpoint is not validly signed by this key for this "
                       "log.") from exc


def _check_consistency(api: Client, old: audit.Checkpoint, new: audit.Checkpoint) -> None:
    if old.size > new.size:
        raise CliError(f"The log shrank from {old.size} to {new.size} entries: it was rolled "
                       "back or forked.")
    if old.size == 0:
        if old.root_hash != audit.EMPTY_ROOT:
            raise CliError("The trusted checkpoint of an empty log has a wrong root.")
        return
    proof = api.get("/audit/proof/consistency", params={"first": old.size,
                                                        "second": new.size}, auth=False)
    try:
        hashes = [base64.b64decode(h, validate=True) for h in proof["hashes"]]
        audit.verify_consistency(old.size, new.size, hashes, old.root_hash, new.root_hash)
    except (audit.AuditError, ValueError, KeyError, TypeError) as exc:
        raise CliError("The log is NOT consistent with the trusted checkpoint: its history "
                       "was rewritten or forked.") from exc


# -- dump -----------------------------------------------------------------------------------

def _write_dump(out_dir: Path, note: str, size: int, pages: Iterator[list[bytes]]) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    temp = out_dir / ".entries.jsonl.tmp"
    written = 0
    with temp.open("wb") as handle, progress("Dumping", total=size) as ticker:
        for page in pages:
            for leaf in page:
                if b"\n" in leaf:
                    raise CliError(f"Entry {written} contains a newline and cannot be dumped "
                                   "one a line.")
                handle.write(leaf + b"\n")
                written += 1
            ticker.advance(len(page))
        handle.flush()
        os.fsync(handle.fileno())
    if written != size:
        temp.unlink(missing_ok=True)
        raise CliError(f"Only {written} of {size} entries could be read.")
    os.replace(temp, out_dir / "entries.jsonl")
    (out_dir / "checkpoint").write_bytes(note.encode("utf-8"))
    return written


def _server_pages(api: Client, size: int) -> Iterator[list[bytes]]:
    for start in range(0, size, PAGE):
        end = min(size, start + PAGE)
        page = api.get("/audit/entries", params={"start": start, "end": end})
        leaves = [base64.b64decode(e, validate=True) for e in page["entries"]]
        if len(leaves) != end - start:
            raise CliError("The server sent a page with the wrong number of entries.")
        yield leaves


def dump_from_data_dir(data_dir: Path, out_dir: Path) -> tuple[str, int]:
    """Checkpoint and entries read in one database snapshot."""
    from audit.storage import LogStore

    try:
        service = open_instance(data_dir)
    except ConsentError as exc:
        raise CliError(exc.message) from exc
    try:
        with service.reading() as session:
            size = LogStore.size(session)
            note = service.log.checkpoint(session, size)

            def pages() -> Iterator[list[bytes]]:
                for start in range(0, size, PAGE):
                    yield list(service.log.entries(session, start, min(size, start + PAGE)))

            written = _write_dump(out_dir, note, size, pages())
    finally:
        service.db.dispose()
    return note, written


@audit_app.command("dump")
def audit_dump(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write checkpoint and "
                                          "entries.jsonl into.", file_okay=False)],
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Read the instance's database directly (on its machine).",
        file_okay=False)] = None,
    server: Annotated[str | None, typer.Option(
        "--server", help="Fetch from this server (needs an auditor sign-in).")] = None,
) -> None:
    """Write the log to OUT/checkpoint and OUT/entries.jsonl.

    OUT/checkpoint is the signed note, verbatim; OUT/entries.jsonl has one entry a line,
    exactly the leaf bytes, in log order."""
    if (data_dir is None) == (server is None):
        raise UsageError("Give exactly one of --data-dir and --server.")
    if data_dir is not None:
        _note, written = dump_from_data_dir(data_dir, out_dir)
    else:
        assert server is not None
        current = state(ctx)
        current.server_option = server
        api = client(ctx)
        note = api.get_text("/audit/checkpoint", auth=False)
        size = _size_of(note)
        written = _write_dump(out_dir, note, size, _server_pages(api, size))
    out(f"Dumped {written} entries and the checkpoint to {out_dir}.")


def _size_of(note: str) -> int:
    """The size line of a checkpoint note (verification happens later, offline)."""
    lines = note.split("\n")
    if len(lines) < 3 or not lines[1].isdigit():
        raise CliError("The server's checkpoint is malformed.")
    return int(lines[1])


# -- verify ---------------------------------------------------------------------------------

def verify_dump(directory: Path, verifier: audit.Verifier, trusted_note: str | None = None,
                *, strict: bool = False) -> audit.VerifyReport:
    """Raises audit.LogVerificationError / VerificationError / FormatError on failure."""
    note, entries = audit.read_dump(directory)
    with progress("Verifying") as ticker:
        try:
            size = _size_of(note)
        except CliError:
            size = 0
        ticker.total(size)
        return audit.verify_log(note, entries, verifier, trusted_note,
                                progress=ticker.completed, strict=strict)


def explain(exc: audit.LogVerificationError) -> str:
    reasons = {
        "entry": "is malformed or breaks the log's rules",
        "signature": "carries a statement signature that does not verify",
        "key": "carries a signature by a key that was not approved at that point",
        "count": "is missing or extra: the entries do not match the checkpoint's size",
        "rollback": "lies beyond the checkpoint: the trusted checkpoint is newer than the log",
    }
    if exc.exact:
        return f"entry {exc.index} {reasons.get(exc.reason, 'does not hold')}."
    if exc.reason == "trusted_root":
        return (f"the first {exc.index} entries do not match the trusted checkpoint: "
                f"an entry before index {exc.index} was changed.")
    return (f"the entries do not match the signed checkpoint: an entry before index "
            f"{exc.index} was changed, removed or added.")


@audit_app.command("verify")
def audit_verify(
    dump_dir: Annotated[Path, typer.Argument(
        help="A dump directory (checkpoint + entries.jsonl).", exists=True, file_okay=False)],
    key: KeyOption,
    trusted: Annotated[Path | None, typer.Option(
        "--trusted", help="An earlier checkpoint you trust: the log must extend it.",
        exists=True, dir_okay=False)] = None,
    strict: Annotated[bool, typer.Option(
        help="Also parse every entry as a well-formed event (slower).")] = False,
    as_json: JsonOption = False,
) -> None:
    """Verify a dump offline with only the log's key.

    Checks the signed checkpoint, every entry against it, and every statement signature
    against keys approved at that point. Exit 0 if all holds, 1 naming the first bad index,
    2 on usage errors."""
    verifier = load_verifier(key)
    trusted_note = _read_text(trusted, "trusted checkpoint") if trusted else None
    for name in ("checkpoint", "entries.jsonl"):
        if not (dump_dir / name).is_file():
            raise UsageError(f"{dump_dir} has no {name}: is it a dump directory?")
    try:
        report = verify_dump(dump_dir, verifier, trusted_note, strict=strict)
    except audit.LogVerificationError as exc:
        message = explain(exc)
        if as_json:
            emit_json({"ok": False, "index": exc.index, "exact": exc.exact,
                       "reason": exc.reason, "message": message})
        raise CliError(f"Verification FAILED: {message}") from exc
    except audit.AuditError as exc:
        which = "trusted checkpoint" if trusted_note and isinstance(
            exc, audit.VerificationError) else "checkpoint"
        if as_json:
            emit_json({"ok": False, "index": None, "reason": "checkpoint",
                       "message": f"the {which} is not validly signed by this key"})
        raise CliError(f"Verification FAILED: the {which} is not a valid checkpoint signed "
                       "by this key.") from exc
    except OSError as exc:
        raise UsageError("The dump could not be read.") from exc
    checkpoint = report.checkpoint
    if as_json:
        emit_json({"ok": True, "origin": checkpoint.origin, "size": checkpoint.size,
                   "root": _root(checkpoint), "entries": report.entries,
                   "keys_registered": report.keys_registered,
                   "keys_approved": report.keys_approved, "keys_revoked": report.keys_revoked,
                   "statements": report.statements, "corroborations": report.corroborations,
                   "signatures_verified": report.signatures_verified,
                   "trusted_size": report.trusted.size if report.trusted else None})
        return
    out(f"Verified: {report.entries} entries match the checkpoint of {checkpoint.origin} "
        f"(size {checkpoint.size}, root {_root(checkpoint)}).")
    out(f"  {report.statements} statements and {report.corroborations} corroborations; "
        f"{report.signatures_verified} signatures verified against {report.keys_approved} "
        f"approved keys ({report.keys_revoked} revoked).")
    if report.trusted is not None:
        out(f"  The log extends the trusted checkpoint of size {report.trusted.size}.")


# -- receipts -------------------------------------------------------------------------------

def _leaf_from_dump(directory: Path, index: int) -> bytes:
    try:
        _note, entries = audit.read_dump(directory)
    except (OSError, audit.AuditError) as exc:
        raise UsageError("The dump could not be read.") from exc
    for position, leaf in enumerate(entries):
        if position == index:
            return leaf
    raise CliError(f"The dump has no entry {index}.")


@receipt_app.command("verify")
def receipt_verify(
    receipt: Annotated[Path, typer.Argument(help="The receipt file (c2sp.org/tlog-proof).",
                                            exists=True, dir_okay=False)],
    key: KeyOption,
    entry: Annotated[Path | None, typer.Option(
        "--entry", help="The log entry the receipt is for (its exact bytes).",
        exists=True, dir_okay=False)] = None,
    dump: Annotated[Path | None, typer.Option(
        "--dump", help="A dump directory to take the entry from.", exists=True,
        file_okay=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Check offline that the log committed to an entry.

    Verifies the checkpoint's signature and the inclusion proof of the entry."""
    verifier = load_verifier(key)
    text = _read_text(receipt, "receipt")
    try:
        parsed = audit.parse_receipt(text)
    except audit.AuditError as exc:
        raise CliError("The file is not a c2sp.org/tlog-proof receipt.") from exc
    if entry is not None and dump is not None:
        raise UsageError("Give at most one of --entry and --dump.")
    if entry is not None:
        leaf = entry.read_bytes()
        leaf = leaf[:-1] if leaf.endswith(b"\n") else leaf
    elif dump is not None:
        leaf = _leaf_from_dump(dump, parsed.index)
    elif parsed.extra is not None:
        leaf = parsed.extra  # unauthenticated until the inclusion proof below covers it
    else:
        raise UsageError("This receipt does not carry its entry: give it with --entry FILE "
                         "or --dump DIR.")
    try:
        checkpoint = audit.verify_receipt(text, leaf, verifier)
    except audit.AuditError as exc:
        raise CliError("The receipt does NOT verify: the log did not sign this entry at this "
                       "index.") from exc
    event = _event(leaf)
    result = {"ok": True, "index": parsed.index, "origin": checkpoint.origin,
              "size": checkpoint.size, "root": _root(checkpoint), "tag": event.get("tag"),
              "statement_id": event.get("statement_id")}
    if as_json:
        emit_json(result)
        return
    out(f"Receipt verified: entry {parsed.index} is in the log {checkpoint.origin} "
        f"of size {checkpoint.size}.")
    if event.get("statement_id"):
        out(f"  {event.get('tag')}: statement {event['statement_id']}")


def _event(leaf: bytes) -> dict[str, Any]:
    try:
        value = json.loads(leaf)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit", rich_help_panel="Auditor")
    app.add_typer(receipt_app, name="receipt", rich_help_panel="Auditor")
