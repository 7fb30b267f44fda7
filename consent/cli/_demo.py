"""``consent demo``: the whole story, told in plain words, on a temporary instance.

A real instance (SQLite) in a temporary directory, served over real HTTP on a free local
port by a server thread; every step goes through the same HTTP routes, client-side signing
and commands as a person at a terminal would use. Names are invented.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import socket
import sqlite3
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pyotp
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from consent import ConsentError, build_payload, canonical_bytes, init_instance, sign_envelope
from consent._keystore import generate_signing_key, read_public, save_keystore
from consent.cli._config import Session, State, write_private
from consent.cli._errors import CliError, UsageError
from consent.cli._http import Client

__all__ = ["register", "run_demo"]

DOCUMENTS_RETURNED = True
WIDTH = 92


# -- telling -------------------------------------------------------------------------------

class Teller:
    def __init__(self) -> None:
        self.chapter = 0
        self.started = time.monotonic()

    def title(self, text: str) -> None:
        self.chapter += 1
        typer.echo("")
        typer.secho(f"{self.chapter}. {text}", bold=True)

    def say(self, text: str) -> None:
        for line in textwrap.wrap(text, WIDTH - 3, break_on_hyphens=False,
                                  break_long_words=False) or [""]:
            typer.echo(f"   {line}")

    def show(self, text: str, indent: int = 6) -> None:
        for line in text.rstrip("\n").split("\n"):
            typer.echo(" " * indent + line)

    def command(self, args: Sequence[str]) -> None:
        typer.secho("   $ consent " + " ".join(_quote(a) for a in args), dim=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def _quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "-_./:=+@,*" for c in arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


# -- the server ------------------------------------------------------------------------------

@contextlib.contextmanager
def serving(service: Any, data_dir: Path) -> Iterator[str]:
    """The real HTTP service over ``service`` on a free local port, in a thread."""
    import uvicorn
    from pydantic import SecretStr

    from api import Settings, create_app

    settings = Settings(data_dir=data_dir, secret_key=SecretStr(secrets.token_urlsafe(32)))
    app = create_app(settings, service)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            server_header=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="consent-demo-server")
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise CliError("The demo server did not start.")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


# -- people ----------------------------------------------------------------------------------

def _password(username: str) -> str:
    while True:
        candidate = secrets.token_urlsafe(18)
        if username.casefold() not in candidate.casefold():
            return candidate


@dataclass
class Account:
    username: str
    role: str
    password: str = ""
    totp_secret: str = ""
    recovery_codes: list[str] = field(default_factory=list)
    first_code: str = ""
    client: Client | None = None
    passphrase: str = ""
    key: Ed25519PrivateKey | None = None
    key_id: str = ""

    @property
    def api(self) -> Client:
        assert self.client is not None
        return self.client


def _code(secret: str, offset_steps: int = 0) -> str:
    """The code an authenticator app shows now (or ``offset_steps`` steps from now)."""
    return str(pyotp.TOTP(secret).at(time.time() + 30 * offset_steps))


def enrol(base: str, account: Account, invitation: str) -> None:
    api = Client(base)
    account.password = _password(account.username)
    started = api.post("/auth/enroll", {"invitation": invitation,
                                        "password": account.password}, auth=False)
    account.totp_secret = str(started["secret"])
    account.first_code = _code(account.totp_secret)
    confirmed = api.post("/auth/enroll/confirm", {"invitation": invitation,
                                                  "code": account.first_code},
                         auth=False)
    account.recovery_codes = [str(c) for c in confirmed["recovery_codes"]]


def sign_in(base: str, account: Account, state: State, *, recovery: bool = False) -> str:
    """Password, then a TOTP code. A code is accepted once per 30-second step: enrolment
    used the current step's code, so this sign-in types the next step's code, which the
    service accepts (it allows one step of clock drift either side). With ``recovery``, a
    recovery code instead, which leaves the authenticator's next code unused."""
    from consent.cli._auth import sign_in as password_and_code

    api = Client(base)
    if recovery:
        code = account.recovery_codes.pop(0)
        token = password_and_code(api, account.username, account.password,
                                  recovery_code=code)
    else:
        code = _code(account.totp_secret, 1)
        token = password_and_code(api, account.username, account.password, code=code)
    account.client = Client(base, token)
    state.save_session(Session(base, account.username, token, None))
    return code


# -- the CLI, in-process -----------------------------------------------------------------------

@dataclass
class Terminal:
    """Runs ``consent`` commands in-process, as a user at a terminal would type them."""

    config_dir: Path
    teller: Teller

    def run(self, args: Sequence[str], *, env: Mapping[str, str] | None = None,
            expect: int = 0, tail: int | None = None, input_text: str | None = None) -> str:
        from consent.cli._app import app

        self.teller.command(args)
        runner = CliRunner()
        environment = {"CONSENT_CONFIG_DIR": str(self.config_dir), "CONSENT_SERVER": None,
                       "CONSENT_PROFILE": None, **(env or {})}
        result = runner.invoke(app, list(args), env=environment,
                               input=input_text, catch_exceptions=False)
        text = result.stdout + result.stderr
        if tail is not None:
            lines = text.rstrip("\n").split("\n")
            text = "\n".join(["[… the statement, shown in full as above …]", *lines[-tail:]]
                             ) if len(lines) > tail else text
        self.teller.show(text)
        if result.exit_code != expect:
            raise CliError(f"The demo step 'consent {args[0]}' exited with status "
                           f"{result.exit_code}, not {expect}.")
        if expect:
            self.teller.show(f"(exit status {result.exit_code})")
        return result.stdout


# -- the story --------------------------------------------------------------------------------

PRISONERS = [
    # full_name, birth_date, location
    ("Ilya Voronin", "1979-03-14", "Penal colony No. 7"),
    ("Daria Sokolova", "1991-11-02", "Pre-trial detention centre No. 1"),
    ("Pavel Orlov", "1985-06-23", "Penal colony No. 2"),
    ("Nina Belova", "1968-01-30", "Penal colony No. 5"),
]

REFUSAL_LETTER = (
    "Do not include me in any exchange list. If I am taken abroad against my will, I will "
    "treat it as kidnapping. Include only those who have explicitly agreed.\n"
)


def _hold(condition: bool, what: str) -> None:
    """The demo checks its own story: a step that does not hold ends it with status 1."""
    if not condition:
        raise CliError(f"The story did not hold: {what}.")


def _days_ago(days: int) -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)


def _evidence(path: Path, text: str, kind: str) -> dict[str, str]:
    path.write_text(text, encoding="utf-8")
    return {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "kind": kind}


def _record(account: Account, person: dict[str, Any], position: str, stated_on: dt.date,
            channel: str, *, cosigner: Account | None = None, scope: dict[str, Any] | None = None,
            evidence: Sequence[dict[str, str]] = ()) -> dict[str, Any]:
    """What ``consent record`` does, without the questions: build, sign here, send."""
    current = account.api.get(f"/persons/{person['id']}")
    payload = build_payload(person_id=current["id"], commitment=current["commitment"],
                            position=position, stated_on=stated_on, channel=channel,
                            previous=current["latest_statement_id"], scope=scope,
                            evidence=evidence)
    assert account.key is not None
    envelope = sign_envelope(payload, account.key)
    answer: dict[str, Any] = account.api.post("/statements", envelope.to_json())
    if cosigner is not None:
        from consent import sign_existing

        assert cosigner.key is not None
        cosigner.api.post(f"/statements/{answer['statement_id']}/signatures",
                          sign_existing(envelope, cosigner.key).to_json())
    return answer


def _copy_database(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _forge(database: Path, index: int) -> None:
    """Turn the refusal at ``index`` into a consent, in the log entry itself."""
    connection = sqlite3.connect(database)
    try:
        (leaf,) = connection.execute("SELECT leaf FROM log_entry WHERE idx = ?",
                                     (index,)).fetchone()
        event = json.loads(leaf)
        payload = json.loads(base64.b64decode(event["envelope"]["payload"]))
        payload["position"] = "consents"
        payload["scope"] = {"transfers": ["exchange"], "destinations": ["*"],
                            "accepts_pardon_petition": True,
                            "requires_documents_returned": False,
                            "requires_family_may_accompany": False}
        forged = canonical_bytes(payload)
        event["envelope"]["payload"] = base64.b64encode(forged).decode("ascii")
        event["statement_id"] = hashlib.sha256(forged).hexdigest()
        connection.execute("UPDATE log_entry SET leaf = ? WHERE idx = ?",
                           (canonical_bytes(event), index))
        connection.commit()
    finally:
        connection.close()


def run_demo(keep: Path | None = None) -> None:
    teller = Teller()
    if keep is not None:
        keep = keep.resolve()
        if keep.exists() and any(keep.iterdir()):
            raise UsageError("The --keep directory must be new or empty.")
    work = Path(tempfile.mkdtemp(prefix="consent-demo-"))
    try:
        # Commands below take paths relative to the demo's directory, as a user would type.
        with contextlib.chdir(work):
            _story(teller, work, keep)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _story(teller: Teller, work: Path, keep: Path | None) -> None:
    data_dir = keep or work / "instance"
    clients = work / "clients"
    files = work / "files"
    files.mkdir(mode=0o700)
    terminal = Terminal(clients, teller)
    typer.secho("exchange-consent: the whole story, on a temporary instance. "
                "All names are invented.", bold=True)

    # 1 -- the instance
    teller.title("An operator creates an instance and starts the service.")
    env = {k: v for k, v in os.environ.items() if k != "CONSENT_DATABASE_URL"}
    try:
        service, admin_invitation = init_instance(data_dir, origin="demo.exchange-consent/log",
                                                  env=env)
    except ConsentError as exc:
        raise CliError(exc.message) from exc
    vkey = service.vkey()
    teller.say(f"consent init created the database (SQLite) and the keys in {data_dir}, "
               "and printed two things: a single-use invitation for the first admin, and the "
               "log's public key, which the operator publishes. Auditors need nothing else:")
    teller.show(vkey)

    with serving(service, data_dir) as base:
        teller.say(f"The service answers on {base} (real HTTP on a free local port).")
        _people(teller, terminal, base, clients, files, admin_invitation, vkey, data_dir, work)

    service.db.dispose()
    typer.echo("")
    if keep is not None:
        teller.say(f"The instance is kept in {keep}. Serve it with: consent serve --data-dir "
                   f"{keep}  (the demo accounts' passwords and TOTP secrets are in "
                   f"{keep / 'demo-accounts.json'}).")
    typer.secho(f"The demo finished in {teller.elapsed():.1f} seconds.", bold=True)


def _people(teller: Teller, terminal: Terminal, base: str, clients: Path, files: Path,
            admin_invitation: str, vkey: str, data_dir: Path, work: Path) -> None:
    def rel(path: Path) -> str:
        return str(path.relative_to(work))

    def state_of(account: Account) -> State:
        return State.create(config_dir=clients, profile=account.username, server=None,
                            environ={})

    # 2 -- the admin
    teller.title("The admin enrols, signs in, and sets up two organisations.")
    admin = Account("admin", "admin")
    enrol(base, admin, admin_invitation)
    teller.say("With the invitation, the admin chose a password; the service showed a TOTP "
               "secret and a QR code for an authenticator app, and asked for the app's first "
               f"code ({admin.first_code}). Eight recovery codes were shown, once.")
    code = sign_in(base, admin, state_of(admin))
    teller.say(f"Signing in takes the password and a fresh code ({code}); a code is never "
               "accepted twice.")
    legal = admin.api.post("/organisations", {"name": "Northern Legal Aid"})
    letters = admin.api.post("/organisations", {"name": "Letters to Prisoners"})
    teller.say(f"Organisations: {legal['name']} (lawyers) and {letters['name']} (a "
               "solidarity group).")

    anna = Account("anna", "advocate")
    boris = Account("boris", "advocate")
    clara = Account("clara", "compiler")
    otto = Account("otto", "auditor")
    invitations = {}
    for account, org in ((anna, legal), (boris, letters), (clara, legal), (otto, None)):
        answer = admin.api.post("/users", {"username": account.username, "role": account.role,
                                           "organisation_id": org["id"] if org else None})
        invitations[account.username] = answer["invitation"]
    teller.say("The admin invites Anna, a lawyer at Northern Legal Aid, and Boris, of Letters "
               "to Prisoners, as advocates; Clara, who compiles exchange lists, as a compiler; "
               "and Otto, an independent reviewer, as an auditor. Each gets a single-use "
               "invitation. The admin cannot do their work: an admin cannot record or alter "
               "statements.")

    # 3 -- advocates
    teller.title("Two advocates enrol with real TOTP codes and register signing keys.")
    for account in (anna, boris, clara, otto):
        enrol(base, account, invitations[account.username])
        sign_in(base, account, state_of(account), recovery=account is clara)
    teller.say(f"Anna and Boris each enrolled (Anna's first code was "
               f"{anna.first_code}), kept their recovery codes, and signed in. So did "
               "Clara and Otto (Clara with one of her recovery codes, which then stops "
               "working).")
    for account in (anna, boris):
        account.passphrase = secrets.token_urlsafe(16)
        path = state_of(account).keystore_path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        save_keystore(path, generate_signing_key(), account.passphrase)
        key_id, public = read_public(path)
        account.key_id = key_id
        account.api.post("/keys", {"public_key": base64.b64encode(public).decode("ascii")})
    teller.say("Each made an Ed25519 signing key on their own machine, sealed under a "
               "passphrase (consent keys generate), and sent only the public half to the "
               "service (consent keys register). The private key never leaves their machine: "
               "the server cannot sign for anyone.")
    terminal.run(["--profile", "admin", "admin", "keys", "list", "--pending"])
    for account in (anna, boris):
        admin.api.post(f"/keys/{account.key_id}/approve")
    teller.say("The admin approves both keys; only now do their signatures count.")
    from consent._keystore import load_keystore

    for account in (anna, boris):
        account.key = load_keystore(state_of(account).keystore_path, account.passphrase)

    # 4 -- persons
    teller.title("Anna registers four prisoners from a CSV file.")
    csv_path = files / "prisoners.csv"
    lines = ["full_name,birth_date,location"] + [f"{n},{b},{loc}" for n, b, loc in PRISONERS]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    teller.show(csv_path.read_text(encoding="utf-8"))
    terminal.run(["--profile", "anna", "persons", "import", rel(csv_path)])
    teller.say("Importing the same file again adds nobody: people are matched by their "
               "normalised name and birth date.")
    terminal.run(["--profile", "anna", "persons", "import", rel(csv_path)])
    teller.say("Names are stored encrypted; search folds case, accents and script, so a "
               "search in Cyrillic finds the Latin spelling:")
    terminal.run(["--profile", "anna", "persons", "find", "Илья Воронин"])
    persons = {}
    for name, _born, _loc in PRISONERS:
        (found,) = anna.api.get("/persons", params={"name": name})
        persons[name.split()[0]] = found
    ilya, daria, pavel, nina = (persons[k] for k in ("Ilya", "Daria", "Pavel", "Nina"))

    # 5 -- statements
    teller.title("The advocates record what each prisoner said, signed on their own machines.")
    letter = _evidence(files / "voronin-letter.txt", REFUSAL_LETTER, "letter")
    teller.say("Ilya Voronin wrote from the colony: \"" + REFUSAL_LETTER.strip() + "\" Anna "
               "records his refusal with the hash of the scanned letter; the letter itself "
               "stays with her. One signature is enough to move someone away from a list.")
    refusal = _record(anna, ilya, "refuses", _days_ago(30), "letter", evidence=[letter])
    teller.say(f"Recorded at log index {refusal['log_index']}.")

    notes = files / "sokolova-visit-notes.txt"
    notes.write_text("Visit notes: D.S. agrees to be exchanged to Germany or Lithuania if her "
                     "passport is returned.\n", encoding="utf-8")
    teller.say("On a lawyer's visit, Daria Sokolova told Anna she agrees to be exchanged to "
               "Germany or Lithuania, provided her identity documents are returned. Anna's "
               "terminal shows her exactly what she is about to sign, and asks:")
    anna_env = {"CONSENT_PASSPHRASE": anna.passphrase}
    receipt_path = files / "sokolova.receipt"
    terminal.run(["--profile", "anna", "record", daria["id"], "--position", "consents",
                  "--transfer", "exchange", "--to", "DE", "--to", "LT",
                  "--requires-documents-returned", "--stated-on", _days_ago(20).isoformat(),
                  "--channel", "lawyer_visit", "--evidence", f"notes={rel(notes)}",
                  "--receipt-out", rel(receipt_path)], env=anna_env, input_text="y\n")
    teller.say("A consent needs two advocates. Boris, who heard the same from Daria's sister "
               "after a visit, reads the statement and adds his signature:")
    terminal.run(["--profile", "boris", "corroborate", daria["id"], "--receipt-out",
                  "files/sokolova-boris.receipt"],
                 env={"CONSENT_PASSPHRASE": boris.passphrase}, input_text="y\n", tail=3)
    teller.say("Daria's consent now carries two signatures, from advocates of two "
               "organisations.")

    _record(boris, pavel, "consents", _days_ago(15), "phone_call",
            scope={"transfers": ["exchange"], "destinations": ["*"],
                   "accepts_pardon_petition": False, "requires_documents_returned": False,
                   "requires_family_may_accompany": False})
    teller.say("Pavel Orlov told Boris on the phone that he would accept an exchange to any "
               "country. Boris records it, but nobody else has heard it: one signature.")

    _record(anna, nina, "consents", _days_ago(60), "court_hearing", cosigner=boris,
            scope={"transfers": ["exchange"], "destinations": ["DE"],
                   "accepts_pardon_petition": False, "requires_documents_returned": False,
                   "requires_family_may_accompany": False})
    _record(anna, nina, "withdraws", _days_ago(10), "letter",
            evidence=[_evidence(files / "belova-letter.txt",
                                "I have changed my mind: I want to stay.\n", "letter")])
    teller.say("Nina Belova said at a court hearing that she agreed to an exchange to Germany "
               "(Anna and Boris both signed). Ten days ago she wrote that she has changed her "
               "mind; Anna records the withdrawal, which takes effect with her one signature.")

    # 6 -- what advocates see
    teller.title("What the advocates see: each person's decision, with its reason.")
    context = {"transfer": "exchange", "destination": "DE", "requires_pardon_petition": False,
               "documents_returned": DOCUMENTS_RETURNED, "family_may_accompany": False}
    teller.say("For an exchange to Germany in which documents are returned:")
    expected = {ilya["id"]: "not eligible: refused", daria["id"]: "ELIGIBLE",
                pavel["id"]: "not eligible: insufficient_signers",
                nina["id"]: "not eligible: withdrawn"}
    for person in (ilya, daria, pavel, nina):
        decision = anna.api.get(f"/persons/{person['id']}/eligibility", params=context)
        verdict = ("ELIGIBLE" if decision["eligible"]
                   else "not eligible: " + ", ".join(decision["reasons"]))
        teller.show(f"{person['full_name']:<16} {verdict}")
        _hold(verdict == expected[person["id"]], f"{person['full_name']} should be "
              f"'{expected[person['id']]}', not '{verdict}'")

    # 7 -- the compiler
    teller.title("The compiler sees only who explicitly agreed.")
    teller.say("Clara asks for everyone eligible for an exchange to Germany with documents "
               "returned. She sees no refusals, no reasons, and no counts of anyone else:")
    listed = terminal.run(["--profile", "clara", "eligible", "--transfer", "exchange", "--to",
                           "DE", "--documents-returned"])
    rows = [line.split("\t")[0] for line in listed.strip().split("\n")[1:]]
    _hold(rows == [daria["id"]], "the eligible list should be exactly Daria Sokolova")
    draft = files / "draft-list.csv"
    draft.write_text("full_name,birth_date\n" + "".join(
        f"{n},{b}\n" for n, b, _loc in PRISONERS), encoding="utf-8")
    teller.say("A negotiator's draft list names all four. Clara vets it: the same rows come "
               "back in the same order, each marked yes or no, with no reasons:")
    vetted = terminal.run(["--profile", "clara", "vet", rel(draft), "--transfer", "exchange",
                           "--to", "DE", "--documents-returned"])
    marks = [line.rsplit(",", 1)[1] for line in vetted.strip().split("\n")[1:]]
    _hold(marks == ["no", "yes", "no", "no"], "vetting should mark only Daria Sokolova")
    teller.say("For the receiving government, Clara exports a signed manifest of the list. "
               "It carries the whole signed history behind each name, so it can be checked "
               "offline with the log's key alone. A manifest leaves the building with names "
               "in it, so the service asks for a fresh authenticator code:")
    manifest = files / "manifest-DE.json"
    terminal.run(["--profile", "clara", "manifest", "export", daria["id"], "--to", "DE",
                  "--documents-returned", "--out", rel(manifest)],
                 env={"CONSENT_TOTP_CODE": _code(clara.totp_secret, 1)})
    terminal.run(["manifest", "verify", rel(manifest), "--key", vkey])

    # 8 -- the auditor
    teller.title("The auditor verifies the whole log offline.")
    dump = work / "dump"
    teller.say("Every change and every compiler read went into a Merkle transparency log. "
               "Otto downloads it (entries carry ids and hashes, never names) and verifies "
               "it on his own machine with only the published key: no account, no database.")
    terminal.run(["--profile", "otto", "audit", "dump", "--server", base, "--out", rel(dump)])
    terminal.run(["audit", "verify", rel(dump), "--key", vkey])
    teller.say("Anna kept a receipt when she recorded Daria's consent; anyone can check it "
               "against the log's key:")
    terminal.run(["receipt", "verify", rel(receipt_path), "--key", vkey, "--dump", rel(dump)])

    # 9 -- tampering
    teller.title("Someone with access to the database rewrites a refusal.")
    copy = work / "tampered"
    shutil.copytree(data_dir, copy, ignore=shutil.ignore_patterns("consent.sqlite3*",
                                                                  "demo-*"))
    _copy_database(data_dir / "consent.sqlite3", copy / "consent.sqlite3")
    _forge(copy / "consent.sqlite3", refusal["log_index"])
    teller.say(f"In a copy of the database, log entry {refusal['log_index']} (Ilya Voronin's "
               "refusal) is rewritten into a consent to any exchange, and its statement id "
               "recomputed to match. A dump is taken from the copy, and verified:")
    forged_dump = work / "forged-dump"
    terminal.run(["audit", "dump", "--data-dir", rel(copy), "--out", rel(forged_dump)])
    terminal.run(["audit", "verify", rel(forged_dump), "--key", vkey], expect=1)
    teller.say("The verifier names the entry: the rewritten statement no longer carries a "
               "valid signature from any approved advocate key, and the server holds no "
               "advocate key with which to forge one.")

    if data_dir != work / "instance":
        accounts = {a.username: {"role": a.role, "password": a.password,
                                 "totp_secret": a.totp_secret,
                                 "recovery_codes": a.recovery_codes}
                    for a in (admin, anna, boris, clara, otto)}
        write_private(data_dir / "demo-accounts.json",
                      (json.dumps(accounts, indent=2) + "\n").encode("utf-8"))


def demo(keep: Annotated[Path | None, typer.Option(
        "--keep", help="Leave the instance's data directory in DIR (new or empty) for "
        "'consent serve'.", file_okay=False)] = None) -> None:
    """Run the whole story on a temporary instance, in plain words (under a minute)."""
    run_demo(keep)


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Everyone")(demo)
