"""``consent admin …``: organisations, users and invitations, keys, policy, data key, backup.

Everything but ``rotate-data-key`` and ``backup`` talks to the server as a signed-in admin.
Those two work on the data directory itself, on the machine that holds it.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.engine import make_url

from consent import ConsentError, open_instance
from consent.cli._common import DataDirOption, JsonOption, client
from consent.cli._config import write_private
from consent.cli._errors import CliError, UsageError
from consent.cli._http import Client
from consent.cli._ui import emit_json, err, out, progress, table

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Administer organisations, users, keys, policy, "
                  "data keys and backups (admin role).")
org_app = typer.Typer(no_args_is_help=True, help="Organisations.")
user_app = typer.Typer(no_args_is_help=True, help="Users and invitations.")
keys_app = typer.Typer(no_args_is_help=True, help="Advocates' signing keys.")
policy_app = typer.Typer(no_args_is_help=True, help="Eligibility policy.")
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(keys_app, name="keys")
app.add_typer(policy_app, name="policy")


# -- organisations --------------------------------------------------------------------------

def find_organisation(api: Client, ref: str) -> dict[str, Any]:
    orgs: list[dict[str, Any]] = api.get("/organisations")
    for org in orgs:
        if ref in (org["id"], org["name"]):
            return org
    raise CliError("No organisation has that name or id.")


@org_app.command("create")
def org_create(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Its name.")],
               as_json: JsonOption = False) -> None:
    """Create an organisation."""
    org = client(ctx).post("/organisations", {"name": name})
    if as_json:
        emit_json(org)
    else:
        out(f"Created organisation {org['name']} ({org['id']}).")


@org_app.command("list")
def org_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List organisations."""
    orgs = client(ctx).get("/organisations")
    if as_json:
        emit_json(orgs)
    else:
        table(["id", "name", "created"], [(o["id"], o["name"], o["created_at"]) for o in orgs])


# -- users ----------------------------------------------------------------------------------

def _find_user(api: Client, ref: str) -> dict[str, Any]:
    users: list[dict[str, Any]] = api.get("/users")
    for user in users:
        if ref in (user["id"], user["username"]):
            return user
    raise CliError("No user has that username or id.")


@user_app.command("invite")
def user_invite(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="3 to 64 letters, digits, '.', '_', '-'.")],
    role: Annotated[str, typer.Option(help="admin, advocate, compiler or auditor.")],
    org: Annotated[str | None, typer.Option(
        "--org", help="Organisation name or id (advocates and compilers need one).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a user and print their single-use invitation (shown only now)."""
    api = client(ctx)
    org_id = find_organisation(api, org)["id"] if org else None
    answer = api.post("/users", {"username": username, "role": role, "organisation_id": org_id})
    if as_json:
        emit_json(answer)
        return
    out(f"Invited {answer['user']['username']} as {answer['user']['role']}.")
    out("Single-use invitation (valid for 7 days; give it to them privately):")
    out(f"  {answer['invitation']}")
    out("They accept it with: consent enroll")


@user_app.command("list")
def user_list(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List users."""
    users = client(ctx).get("/users")
    if as_json:
        emit_json(users)
        return
    table(["id", "username", "role", "organisation", "enrolled", "disabled"],
          [(u["id"], u["username"], u["role"], u["organisation_id"] or "-",
            "yes" if u["enrolled"] else "no", "yes" if u["disabled"] else "no") for u in users])


@user_app.command("disable")
def user_disable(ctx: typer.Context,
                 user: Annotated[str, typer.Argument(help="Username or id.")]) -> None:
    """Disable an account; its sessions end at once."""
    api = client(ctx)
    found = api.post(f"/users/{_find_user(api, user)['id']}/disable")
    out(f"Disabled {found['username']}.")


@user_app.command("enable")
def user_enable(ctx: typer.Context,
                user: Annotated[str, typer.Argument(help="Username or id.")]) -> None:
    """Re-enable an account (this also lifts a second-factor lock)."""
    api = client(ctx)
    found = api.post(f"/users/{_find_user(api, user)['id']}/enable")
    out(f"Enabled {found['username']}.")


# -- keys -----------------------------------------------------------------------------------

def find_key(api: Client, ref: str) -> dict[str, Any]:
    """A key by its id or an unambiguous prefix of at least 8 hex digits."""
    ref = ref.strip().lower()
    if len(ref) < 8:
        raise UsageError("Give the key id, or at least its first 8 hex digits.")
    keys: list[dict[str, Any]] = api.get("/keys")
    matches = [k for k in keys if k["key_id"].startswith(ref)]
    if len(matches) != 1:
        raise CliError("No key has that id." if not matches
                       else "Several keys start with that prefix: give more digits.")
    return matches[0]


def _key_rows(keys: list[dict[str, Any]], users: dict[str, str]) -> list[tuple[str, ...]]:
    return [(k["key_id"], users.get(k["user_id"], k["user_id"]), k["state"],
             k["registered_at"]) for k in keys]


@keys_app.command("list")
def keys_list(ctx: typer.Context,
              pending: Annotated[bool, typer.Option(help="Only keys awaiting approval.")] = False,
              as_json: JsonOption = False) -> None:
    """List advocates' keys and their state (pending, approved, revoked)."""
    api = client(ctx)
    keys = [k for k in api.get("/keys") if not pending or k["state"] == "pending"]
    if as_json:
        emit_json(keys)
        return
    users = {u["id"]: u["username"] for u in api.get("/users")}
    table(["key id", "owner", "state", "registered"], _key_rows(keys, users))


@keys_app.command("approve")
def keys_approve(ctx: typer.Context,
                 key_id: Annotated[str, typer.Argument(help="Key id (or its first 8+ hex).")]
                 ) -> None:
    """Approve a registered key: its signatures count from now on."""
    api = client(ctx)
    key = api.post(f"/keys/{find_key(api, key_id)['key_id']}/approve")
    out(f"Approved key {key['key_id']}.")


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context,
                key_id: Annotated[str, typer.Argument(help="Key id (or its first 8+ hex).")]
                ) -> None:
    """Revoke a key: signatures made with it from now on do not count."""
    api = client(ctx)
    key = api.post(f"/keys/{find_key(api, key_id)['key_id']}/revoke")
    out(f"Revoked key {key['key_id']}.")


# -- policy ---------------------------------------------------------------------------------

@policy_app.command("activate")
def policy_activate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A policy document (TOML).", exists=True,
                                         dir_okay=False, readable=True)],
    as_json: JsonOption = False,
) -> None:
    """Activate a policy document; its hash goes into the log."""
    try:
        document = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError("The policy file could not be read as UTF-8 text.") from exc
    policy = client(ctx).post("/policies/activate", {"document": document})
    if as_json:
        emit_json(policy)
    else:
        out(f"Activated policy {policy['id']} version {policy['version']} "
            f"(sha256 {policy['sha256']}).")


# -- on the data directory ------------------------------------------------------------------

@app.command("rotate-data-key")
def rotate_data_key(data_dir: DataDirOption) -> None:
    """Add a data-encryption key and re-encrypt everything under it (server machine).

    The rotation is logged. Restart the service afterwards so new writes use the new key."""
    from consent._keyfiles import rotate_data_key as rotate

    try:
        key = rotate(data_dir)
        service = open_instance(data_dir)
        try:
            changed = service.reencrypt_at_rest(None)
        finally:
            service.db.dispose()
    except ConsentError as exc:
        raise CliError(exc.message) from exc
    out(f"Added data key {key.key_id} to the ring in {data_dir / 'keys'} and re-encrypted "
        f"{changed} value(s) under it.")
    out("Restart 'consent serve' so that new writes use it (older keys stay in the ring, so "
        "everything stays readable). Back up the keys directory now.")


def _backup_sqlite(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while the service keeps writing."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            with progress("Backing up") as ticker:
                def step(_status: int, remaining: int, total: int) -> None:
                    ticker.total(total)
                    ticker.completed(total - remaining)
                    del _status

                src.backup(dst, pages=256, progress=step)
            check = dst.execute("PRAGMA integrity_check").fetchone()
            if not check or check[0] != "ok":
                raise CliError("The backup copy failed its integrity check.")
        finally:
            dst.close()
    finally:
        src.close()


@app.command("backup")
def backup(
    data_dir: DataDirOption,
    out_dir: Annotated[Path, typer.Option("--out", help="A new directory for the backup.",
                                          file_okay=False)],
    include_keys: Annotated[bool, typer.Option(
        "--include-keys", help="Also copy the key files (then guard the backup like the "
        "keys themselves).")] = False,
) -> None:
    """A consistent online backup of the database (and configuration) into a new directory.

    SQLite is copied with its online backup API while the service runs; PostgreSQL with
    pg_dump (which must be installed). Keys are left out unless --include-keys: keep them
    apart from database backups, since a database backup without its keys cannot be read.
    """
    try:
        service = open_instance(data_dir)
    except ConsentError as exc:
        raise CliError(exc.message) from exc
    url = make_url(service.db.url)
    service.db.dispose()
    if out_dir.exists():
        raise UsageError("The backup directory must not exist yet.")
    out_dir.mkdir(mode=0o700, parents=True)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        target = out_dir / "consent.sqlite3"  # the data directory's own file name
        _backup_sqlite(Path(url.database), target)
        target.chmod(0o600)
    else:
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            raise CliError("pg_dump is not installed: install the PostgreSQL client tools.")
        target = out_dir / "consent.pgdump"
        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        result = subprocess.run(  # noqa: S603 - fixed program, arguments are not a shell
            [pg_dump, "--format=custom", "--no-owner", f"--file={target}", f"--dbname={plain}"],
            check=False, capture_output=True)
        if result.returncode != 0:
            raise CliError("pg_dump failed; check the database URL and the server's logs.")
    write_private(out_dir / "config.json", (data_dir / "config.json").read_bytes())
    if include_keys:
        shutil.copytree(data_dir / "keys", out_dir / "keys")
        err("The backup holds the keys: store it as carefully as the keys themselves.")
    out(f"Backed up to {out_dir} ({target.name}).")
