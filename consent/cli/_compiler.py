"""Compilers: ``consent eligible``, ``consent vet``, ``consent manifest …``.

A compiler sees only who is eligible for the deal described by the list context, never
refusals, reasons or counts of anyone else; every call is a log entry.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

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
from consent.cli._errors import UsageError
from consent.cli._ui import emit_json, err, out, progress, stdout_is_terminal, table

__all__ = ["register", "vet_rows"]

VET_BATCH = 5000  # the service's limit per request


def eligible(
    ctx: typer.Context,
    destination: DestinationOption,
    transfer: TransferOption = "exchange",
    requires_pardon_petition: PardonOption = False,
    documents_returned: DocumentsOption = False,
    family_may_accompany: FamilyOption = False,
    as_of: AsOfOption = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Everyone eligible for a list context (and only them)."""
    context = context_body(transfer, destination, requires_pardon_petition, documents_returned,
                           family_may_accompany, as_of)
    persons: list[dict[str, Any]] = client(ctx).post("/lists/eligible", {"context": context})
    if as_json:
        emit_json(persons)
        return
    rows = [(p["person_id"], p["full_name"], p.get("birth_date") or "") for p in persons]
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["person_id", "full_name", "birth_date"])
        writer.writerows(rows)
        return
    if stdout_is_terminal():
        out(f"{len(persons)} eligible for {transfer} to {context['destination']}:")
    table(["person id", "name", "born"], rows)


def _candidate(row: dict[str, str]) -> dict[str, Any]:
    person_id = (row.get("person_id") or "").strip()
    if person_id:
        return {"person_id": person_id}
    name = (row.get("full_name") or "").strip()
    born = (row.get("birth_date") or "").strip()
    if name:
        return {"full_name": name, "birth_date": born} if born else {"full_name": name}
    return {}  # the service answers "not eligible" for anything it cannot match


def read_candidates(text: str) -> tuple[list[str], list[list[str]], list[dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise UsageError("The draft list is empty: it needs a header row.") from None
    except csv.Error as exc:
        raise UsageError("The draft list is not valid CSV.") from exc
    names = [h.strip() for h in header]
    if "person_id" not in names and "full_name" not in names:
        raise UsageError("The draft list needs a 'person_id' or a 'full_name' column "
                         "(with 'birth_date' if known).")
    if "eligible" in names:
        raise UsageError("The draft list already has an 'eligible' column.")
    rows: list[list[str]] = []
    candidates = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            rows.append(cells)
            candidates.append(_candidate(dict(zip(names, cells, strict=False))))
    except csv.Error as exc:
        raise UsageError(f"The draft list is not valid CSV (line {reader.line_num}).") from exc
    return header, rows, candidates


def vet_rows(api: Any, context: dict[str, Any], candidates: Sequence[dict[str, Any]]
             ) -> list[bool]:
    answers: list[bool] = []
    with progress("Vetting", total=len(candidates)) as ticker:
        for start in range(0, len(candidates), VET_BATCH):
            batch = list(candidates[start:start + VET_BATCH])
            result = api.post("/lists/vet", {"context": context, "candidates": batch})
            answers.extend(bool(r["eligible"]) for r in result)
            ticker.advance(len(batch))
    return answers


def vet(
    ctx: typer.Context,
    draft: Annotated[str, typer.Argument(
        help="The draft list, CSV with 'person_id' or 'full_name' (+ 'birth_date') columns; "
        "'-' for standard input.")],
    destination: DestinationOption,
    transfer: TransferOption = "exchange",
    requires_pardon_petition: PardonOption = False,
    documents_returned: DocumentsOption = False,
    family_may_accompany: FamilyOption = False,
    as_of: AsOfOption = None,
    out_file: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Write the vetted CSV here (default: standard output).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Vet a draft list: the same CSV back, in the same order, with an 'eligible' column."""
    context = context_body(transfer, destination, requires_pardon_petition, documents_returned,
                           family_may_accompany, as_of)
    try:
        raw = sys.stdin.buffer.read() if draft == "-" else Path(draft).read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        raise UsageError("The draft list could not be read.") from exc
    except UnicodeDecodeError as exc:
        raise UsageError("The draft list is not UTF-8 text.") from exc
    header, rows, candidates = read_candidates(text)
    answers = vet_rows(client(ctx), context, candidates)
    if as_json:
        emit_json([{"row": i + 1, "eligible": a} for i, a in enumerate(answers)])
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*header, "eligible"])
    for cells, answer in zip(rows, answers, strict=True):
        writer.writerow([*cells, "yes" if answer else "no"])
    if out_file is None:
        sys.stdout.write(buffer.getvalue())
    else:
        out_file.write_text(buffer.getvalue(), encoding="utf-8")
        err(f"{sum(answers)} of {len(answers)} eligible; written to {out_file}.")


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Compiler")(eligible)
    app.command(rich_help_panel="Compiler")(vet)
