"""Signed manifests (issue 7): built by the service, verified offline with only the vkey.

Tampering is tested twice where it matters: as an outsider would do it (the service
signature then fails), and as a service that signs a wrong manifest would (the manifest is
re-signed with the log key, and the deeper check must name the failure).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit import Checkpoint, InMemoryTree, Signer, pae, sign_checkpoint
from audit.storage import LogEntry
from consent import PersonRecord, canonical_bytes, key_id_of, public_key_bytes, sign_existing
from consent._manifest import BuiltManifest, ManifestRefused, build_manifest
from consent._manifest_verify import (
    MANIFEST_PAYLOAD_TYPE,
    ManifestInvalid,
    ManifestReport,
    manifest_keyid,
    verify_manifest,
)
from policies import ListContext
from tests.conftest import Advocate, World
from tests.consent.helpers import statement

CONTEXT = ListContext("exchange", "DE", False, True, False)
AS_OF = dt.date(2026, 11, 1)


# -- helpers -------------------------------------------------------------------------------


def record(world: World, person: PersonRecord, position: str, *signers: Advocate,
           **kwargs: Any) -> str:
    env = statement(world.service, person, position, *(a.keys[0] for a in signers), **kwargs)
    return world.service.record_statement(signers[0].actor, env).statement_id


def signer_of(world: World) -> Signer:
    return world.service._signer


def vkey_of(world: World) -> str:
    return signer_of(world).verifier.vkey


def build(world: World, ids: list[str], *, context: ListContext = CONTEXT,
          as_of: dt.date = AS_OF) -> BuiltManifest:
    svc = world.service
    with svc.reading() as session:
        return build_manifest(session, persons=svc.persons, log=svc.log,
                              signer=signer_of(world), context=context, person_ids=ids,
                              as_of=as_of, now=svc.clock())


def body_of(data: bytes) -> dict[str, Any]:
    envelope = json.loads(data)
    return json.loads(base64.b64decode(envelope["payload"]))  # type: ignore[no-any-return]


def seal(body: dict[str, Any], signer: Signer) -> bytes:
    """Sign a (changed) manifest body with a log key, as the service itself would."""
    payload = canonical_bytes(body)
    return canonical_bytes({
        "payloadType": MANIFEST_PAYLOAD_TYPE,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": manifest_keyid(signer.verifier.public_key),
                        "sig": base64.b64encode(
                            signer.sign(pae(MANIFEST_PAYLOAD_TYPE, payload))).decode()}],
    })


def failure(data: bytes, vkey: str) -> str | None:
    """The first failure the verifier names, or None when everything holds."""
    try:
        report = verify_manifest(data, vkey)
    except ManifestInvalid as exc:
        return exc.message
    return report.first_failure


def entry_json(world: World, index: int, size: int) -> dict[str, Any]:
    svc = world.service
    with svc.reading() as session:
        row = session.get(LogEntry, index)
        assert row is not None
        proof = svc.log.inclusion_proof(session, index, size)
    return {"index": index, "leaf": base64.b64encode(bytes(row.leaf)).decode(),
            "proof": [base64.b64encode(h).decode() for h in proof]}


def add_entries(world: World, body: dict[str, Any], indexes: list[int]) -> None:
    size = Checkpoint.from_text(body["checkpoint"].split("\n\n")[0] + "\n").size
    have = {e["index"] for e in body["entries"]}
    body["entries"].extend(entry_json(world, i, size) for i in sorted(set(indexes) - have))
    body["entries"].sort(key=lambda e: e["index"])


def person_json(world: World, person: PersonRecord) -> dict[str, Any]:
    """A person entry built by hand from the stored rows (as a forger with the DB would)."""
    from consent._statements import statements_of

    with world.service.reading() as session:
        stored = statements_of(session, person.id)
    return {
        "person_id": person.id,
        "status": "imprisoned",
        "identity": {"full_name": person.identity.full_name,
                     "birth_date": person.identity.birth_date.isoformat()
                     if person.identity.birth_date else None,
                     "salt": person.salt.hex(), "commitment": person.commitment},
        "head": stored[-1].statement_id if stored else None,
        "statements": [{"envelope": s.envelope().to_json(), "recorded": s.log_index,
                        "signature_entries": [g.log_index for g in s.signatures]}
                       for s in stored],
    }


def hand_add(world: World, body: dict[str, Any], person: PersonRecord) -> None:
    entry = person_json(world, person)
    body["persons"].append(entry)
    add_entries(world, body, [i for s in entry["statements"]
                              for i in (s["recorded"], *s["signature_entries"])])


@dataclass
class People:
    ivan: PersonRecord      # consent signed by alice and bob in one envelope
    olga: PersonRecord      # consent by alice, corroborated by bob (a separate entry)
    lena: PersonRecord      # consent, then a refusal recorded later but stated earlier
    petr: PersonRecord      # refuses
    nina: PersonRecord      # consent with one signature only
    turned: PersonRecord    # consent, then a later refusal


@pytest.fixture
def people(world: World) -> People:
    svc, alice, bob = world.service, world.alice, world.bob

    def register(name: str, born: str | None = "1970-01-02") -> PersonRecord:
        return svc.register_person(alice.actor, full_name=name, birth_date=born)

    p = People(register("Ivan Testov"), register("Olga Primerova", None),
               register("Lena Late"), register("Petr Refusnik"), register("Nina Single"),
               register("Turned Around"))
    record(world, p.ivan, "consents", alice, bob)
    olga_consent = statement(svc, p.olga, "consents", alice.keys[0])
    svc.record_statement(alice.actor, olga_consent)
    svc.add_signature(bob.actor, olga_consent.statement_id,
                      sign_existing(olga_consent, bob.keys[0]))
    record(world, p.lena, "consents", alice, bob, stated_on=dt.date(2026, 10, 1))
    record(world, p.lena, "refuses", alice, stated_on=dt.date(2026, 9, 1))
    record(world, p.petr, "refuses", alice)
    record(world, p.nina, "consents", alice)
    record(world, p.turned, "consents", alice, bob, stated_on=dt.date(2026, 10, 1))
    record(world, p.turned, "refuses", bob, stated_on=dt.date(2026, 10, 15))
    return p


@pytest.fixture
def valid(world: World, people: People) -> BuiltManifest:
    return build(world, [people.ivan.id, people.olga.id, people.lena.id])


# -- a valid manifest ----------------------------------------------------------------------


def test_a_valid_manifest_verifies(world: World, people: People,
                                   valid: BuiltManifest) -> None:
    report = verify_manifest(valid.data, vkey_of(world))
    assert isinstance(report, ManifestReport)
    assert report.ok and report.first_failure is None
    assert [p.person_id for p in report.persons] == [people.ivan.id, people.olga.id,
                                                     people.lena.id]
    assert [p.statements for p in report.persons] == [1, 1, 2]
    assert report.context == CONTEXT and report.as_of == AS_OF
    assert report.policy_id == "explicit-consent"
    assert report.origin == "consent.test/log"
    lines = report.lines()
    assert len(lines) == 3 and all(line.startswith("ok ") for line in lines)
    assert "Olga Primerova (-)" in lines[1]
    report.raise_for_failure()
    # The file is its own RFC 8785 encoding; one trailing newline is tolerated.
    assert canonical_bytes(valid.envelope) == valid.data
    assert valid.sha256 == hashlib.sha256(valid.data).hexdigest()
    assert verify_manifest(valid.data + b"\n", vkey_of(world)).ok


def test_the_manifest_carries_what_the_issue_lists(world: World, people: People,
                                                    valid: BuiltManifest) -> None:
    body = body_of(valid.data)
    assert body["type"] == "exchange-consent/manifest/v1"
    assert body["as_of"] == "2026-11-01"
    assert b'id = "explicit-consent"' in base64.b64decode(body["policy"]["document"])
    assert hashlib.sha256(base64.b64decode(body["policy"]["document"])).hexdigest() == \
        body["policy"]["sha256"] == valid.policy_sha256
    olga = body["persons"][1]
    assert olga["identity"]["birth_date"] is None and len(olga["identity"]["salt"]) == 64
    # The corroboration is its own log entry, and that entry is carried with its proof.
    (only,) = olga["statements"]
    assert len(only["signature_entries"]) == 2
    assert only["signature_entries"][0] == only["recorded"] < only["signature_entries"][1]
    indexes = [e["index"] for e in body["entries"]]
    assert indexes == sorted(set(indexes))
    assert only["signature_entries"][1] in indexes
    # Keys: the registration and the approval entry of each signing key.
    keyids = {key_id_of(public_key_bytes(a.keys[0])) for a in (world.alice, world.bob)}
    assert {k["key_id"] for k in body["keys"]} == keyids
    assert all(k["registration"] < k["approval"] and k["revocation"] is None
               for k in body["keys"])
    # Lena's whole history: the late refusal too, oldest first, ending at the head.
    lena = body["persons"][2]
    assert len(lena["statements"]) == 2 and lena["statements"][0]["envelope"]
    assert Checkpoint.from_text(body["checkpoint"].split("\n\n")[0] + "\n").size == \
        valid.checkpoint_size


def test_a_key_revoked_after_signing_still_counts(world: World, people: People) -> None:
    world.service.revoke_key(world.admin, key_id_of(public_key_bytes(world.bob.keys[0])))
    built = build(world, [people.ivan.id])
    assert verify_manifest(built.data, vkey_of(world)).ok
    body = body_of(built.data)
    (bob,) = [k for k in body["keys"]
              if k["key_id"] == key_id_of(public_key_bytes(world.bob.keys[0]))]
    assert bob["revocation"] is not None
    # A revocation before the signature would not count; the entry must be a revocation.
    bob["revocation"] = bob["approval"]
    assert "is not a 'admin:key:revoked' event" in str(failure(seal(body, signer_of(world)),
                                                               vkey_of(world)))


def test_statements_logged_after_the_checkpoint_are_left_out(world: World,
                                                             people: People) -> None:
    from consent._manifest import _chain
    from consent._statements import statements_of

    with world.service.reading() as session:
        stored = statements_of(session, people.lena.id)
    chain = _chain(stored, stored[1].log_index)
    assert [s.statement_id for s in chain] == [stored[0].statement_id]


# -- refusals by the service ---------------------------------------------------------------


def test_refused_as_a_whole_without_saying_who_or_why(world: World, people: People) -> None:
    messages = set()
    cases = [
        [people.ivan.id, people.petr.id],           # a refusal
        [people.nina.id],                           # one signature
        [people.ivan.id, people.turned.id],         # a later refusal decides
        [people.ivan.id, people.ivan.id],           # duplicated
        [],                                         # empty
        [str(uuid.uuid4())],                        # unknown
        ["not-a-uuid"],                             # malformed
        [str(uuid.uuid4()) for _ in range(501)],    # too long
    ]
    for ids in cases:
        with pytest.raises(ManifestRefused) as caught:
            build(world, ids)
        messages.add(caught.value.message)
    assert len(messages) == 1
    (message,) = messages
    for person in (people.petr, people.nina, people.turned):
        assert person.id not in message and person.identity.full_name not in message


def test_refused_for_a_context_outside_the_scope_or_when_stale(world: World,
                                                               people: People) -> None:
    with pytest.raises(ManifestRefused):
        build(world, [people.ivan.id], context=ListContext("exchange", "FR", False, True,
                                                           False))
    with pytest.raises(ManifestRefused):
        build(world, [people.ivan.id], as_of=AS_OF + dt.timedelta(days=365))
    world.service.set_person_status(world.alice.actor, people.ivan.id, "released")
    with pytest.raises(ManifestRefused):
        build(world, [people.ivan.id])


# -- tampering: every failure is named -----------------------------------------------------


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture],
          deadline=None)
@given(st.data())
def test_a_changed_byte_anywhere_fails(world: World, valid: BuiltManifest,
                                       data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(valid.data) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = bytearray(valid.data)
    changed[position] ^= flip
    with pytest.raises(ManifestInvalid):
        verify_manifest(bytes(changed), vkey_of(world))


def test_a_changed_payload_byte_names_the_service_signature(world: World,
                                                            valid: BuiltManifest) -> None:
    envelope = json.loads(valid.data)
    payload = bytearray(base64.b64decode(envelope["payload"]))
    payload[len(payload) // 2] ^= 0x01
    envelope["payload"] = base64.b64encode(bytes(payload)).decode()
    message = failure(canonical_bytes(envelope), vkey_of(world))
    assert message is not None and "service signature does not verify" in message


def test_another_key_is_not_the_log_key(world: World, valid: BuiltManifest) -> None:
    other = Signer("consent.test/log", Ed25519PrivateKey.generate())
    assert "not signed by the given key" in str(failure(valid.data, other.verifier.vkey))
    assert "not a vkey" in str(failure(valid.data, "nonsense"))


def test_a_removed_service_signature_fails(world: World, valid: BuiltManifest) -> None:
    envelope = json.loads(valid.data)
    envelope["signatures"] = []
    assert "no service signature" in str(failure(canonical_bytes(envelope), vkey_of(world)))


def test_a_removed_advocate_signature_fails(world: World, people: People,
                                            valid: BuiltManifest) -> None:
    body = body_of(valid.data)
    # Ivan's two signatures came in one logged envelope: dropping one is caught by the log.
    ivan = body["persons"][0]["statements"][0]
    ivan["envelope"]["signatures"].pop()
    ivan["signature_entries"].pop()
    unsigned = canonical_bytes(json.loads(valid.data) | {"payload": base64.b64encode(
        canonical_bytes(body)).decode()})
    assert "service signature does not verify" in str(failure(unsigned, vkey_of(world)))
    message = failure(seal(body, signer_of(world)), vkey_of(world))
    assert message == (f"person 0 ({people.ivan.id}): statement 0: a signature logged at "
                       f"{ivan['recorded']} is missing from the envelope")
    # Olga's corroboration was logged apart: without it she lacks a second signer.
    body = body_of(valid.data)
    olga = body["persons"][1]["statements"][0]
    olga["envelope"]["signatures"].pop()
    olga["signature_entries"].pop()
    message = failure(seal(body, signer_of(world)), vkey_of(world))
    assert message == (f"person 1 ({people.olga.id}): not eligible under policy "
                       "explicit-consent at 2026-11-01: insufficient_signers")


def test_a_signature_with_a_wrong_log_entry_fails(world: World, people: People,
                                                  valid: BuiltManifest) -> None:
    body = body_of(valid.data)
    olga = body["persons"][1]["statements"][0]
    ivan_at = body["persons"][0]["statements"][0]["recorded"]
    lena_at = body["persons"][2]["statements"][0]["recorded"]
    olga["signature_entries"][1] = ivan_at
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 1 ({people.olga.id}): statement 0: signature 1: log entry {ivan_at} "
        "precedes the statement")
    olga["signature_entries"][1] = lena_at
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 1 ({people.olga.id}): statement 0: signature 1: log entry {lena_at} is "
        "not a 'advocate:statement:corroborated' event")


def test_a_person_added_by_hand_with_a_one_signature_consent_fails(
        world: World, people: People, valid: BuiltManifest) -> None:
    body = body_of(valid.data)
    hand_add(world, body, people.nina)
    forged = seal(body, signer_of(world))
    assert failure(forged, vkey_of(world)) == (
        f"person 3 ({people.nina.id}): not eligible under policy explicit-consent at "
        "2026-11-01: insufficient_signers")
    report = verify_manifest(forged, vkey_of(world))
    assert [p.ok for p in report.persons] == [True, True, True, False]
    assert report.lines()[3].startswith("FAIL  person 3 ")
    # An outsider cannot even get that far.
    envelope = json.loads(valid.data)
    envelope["payload"] = json.loads(forged)["payload"]
    assert "service signature does not verify" in str(failure(canonical_bytes(envelope),
                                                              vkey_of(world)))


def test_an_unlogged_statement_added_by_hand_fails(world: World, people: People,
                                                   valid: BuiltManifest) -> None:
    body = body_of(valid.data)
    entry = person_json(world, people.nina)
    # A second signature made off the log by a real advocate key is not enough.
    from consent import Envelope

    env = Envelope.from_json(entry["statements"][0]["envelope"])
    extra = sign_existing(env, world.carol.keys[0])
    entry["statements"][0]["envelope"]["signatures"].append(extra.to_json())
    entry["statements"][0]["signature_entries"].append(entry["statements"][0]["recorded"])
    body["persons"].append(entry)
    add_entries(world, body, [entry["statements"][0]["recorded"]])
    message = failure(seal(body, signer_of(world)), vkey_of(world))
    assert message == (f"person 3 ({people.nina.id}): statement 0: signature 1 is not in "
                       f"the envelope logged at {entry['statements'][0]['recorded']}")


def test_a_person_whose_deciding_statement_is_a_refusal_fails(
        world: World, people: People, valid: BuiltManifest) -> None:
    body = body_of(valid.data)
    hand_add(world, body, people.petr)
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 3 ({people.petr.id}): not eligible under policy explicit-consent at "
        "2026-11-01: refused")
    body = body_of(valid.data)
    hand_add(world, body, people.turned)
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 3 ({people.turned.id}): not eligible under policy explicit-consent at "
        "2026-11-01: refused")


def test_a_chain_with_its_latest_statement_cut_off_fails(
        world: World, people: People, valid: BuiltManifest) -> None:
    # Lena's late refusal does not decide, but it must be there: the head names it.
    body = body_of(valid.data)
    body["persons"][2]["statements"].pop()
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 2 ({people.lena.id}): the chain does not end at the head statement the "
        "manifest commits to")
    # Turned's refusal decides: cut off, the head still gives the cut away.
    body = body_of(valid.data)
    hand_add(world, body, people.turned)
    body["persons"][3]["statements"].pop()
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 3 ({people.turned.id}): the chain does not end at the head statement the "
        "manifest commits to")
    # Cutting the first statement instead breaks the chain at its start.
    body = body_of(valid.data)
    body["persons"][2]["statements"].pop(0)
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 2 ({people.lena.id}): statement 0: its 'previous' does not name the "
        "statement before it: the chain is broken")


def test_a_swapped_identity_fails(world: World, people: People,
                                  valid: BuiltManifest) -> None:
    body = body_of(valid.data)
    persons = body["persons"]
    persons[0]["identity"], persons[1]["identity"] = persons[1]["identity"], \
        persons[0]["identity"]
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 0 ({people.ivan.id}): statement 0: the statement's identity commitment is "
        "not the person's")
    body = body_of(valid.data)
    body["persons"][0]["identity"]["full_name"] = "Somebody Else"
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 0 ({people.ivan.id}): the identity does not match its commitment")
    body = body_of(valid.data)
    body["persons"][0]["person_id"] = people.petr.id
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 0 ({people.petr.id}): statement 0: the statement is about another person")


def test_a_proof_from_another_tree_fails(world: World, valid: BuiltManifest) -> None:
    body = body_of(valid.data)
    size = valid.checkpoint_size
    target = body["entries"][-1]
    other = InMemoryTree()
    for i in range(size):
        other.append(base64.b64decode(target["leaf"]) if i == target["index"]
                     else b"another tree %d" % i)
    target["proof"] = [base64.b64encode(h).decode()
                       for h in other.inclusion_proof(target["index"], size)]
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"manifest: log entry {target['index']}: the inclusion proof does not verify "
        "against the checkpoint")


def test_a_checkpoint_of_another_tree_fails(world: World, valid: BuiltManifest) -> None:
    body = body_of(valid.data)
    other = InMemoryTree()
    for i in range(valid.checkpoint_size):
        other.append(b"leaf %d" % i)
    impostor = Signer("consent.test/log", Ed25519PrivateKey.generate())
    body["checkpoint"] = sign_checkpoint(
        Checkpoint("consent.test/log", other.size, other.root()), impostor)
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        "manifest: the checkpoint is not a checkpoint of this log signed by the given key")
    # The log's own, older checkpoint: the proofs were made for another tree size.
    body = body_of(valid.data)
    with world.service.reading() as session:
        body["checkpoint"] = world.service.log.checkpoint(session, valid.checkpoint_size - 1)
    message = failure(seal(body, signer_of(world)), vkey_of(world))
    assert message is not None and message.startswith("manifest: log entry ")


def test_a_policy_document_edited_after_signing_fails(world: World,
                                                      valid: BuiltManifest) -> None:
    body = body_of(valid.data)
    document = base64.b64decode(body["policy"]["document"])
    edited = document.replace(b"max_consent_age_days = 180", b"max_consent_age_days = 3650")
    assert edited != document
    body["policy"]["document"] = base64.b64encode(edited).decode()
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        "manifest: policy: the document's SHA-256 is not the hash the manifest names")
    body["policy"]["sha256"] = hashlib.sha256(edited).hexdigest()
    activation = body["policy"]["activation"]
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"manifest: log entry {activation}: its 'sha256' does not match the manifest")


def test_a_later_as_of_or_another_context_is_re_evaluated(world: World, people: People,
                                                          valid: BuiltManifest) -> None:
    body = body_of(valid.data)
    body["as_of"] = "2027-11-01"
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 0 ({people.ivan.id}): not eligible under policy explicit-consent at "
        "2027-11-01: stale")
    body = body_of(valid.data)
    body["context"]["destination"] = "FR"
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 0 ({people.ivan.id}): not eligible under policy explicit-consent at "
        "2026-11-01: out_of_scope")
    body = body_of(valid.data)
    body["persons"][0]["status"] = "released"
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"person 0 ({people.ivan.id}): not eligible under policy explicit-consent at "
        "2026-11-01: not_imprisoned")


def test_a_key_entry_of_another_key_fails(world: World, valid: BuiltManifest) -> None:
    body = body_of(valid.data)
    first, second = body["keys"]
    first["registration"] = second["registration"]
    assert failure(seal(body, signer_of(world)), vkey_of(world)) == (
        f"manifest: key {first['key_id']}: log entry {second['registration']}: its 'key_id' "
        "does not match the manifest")


def test_malformed_manifests_are_named_not_crashed(world: World,
                                                   valid: BuiltManifest) -> None:
    vkey = vkey_of(world)
    assert "not valid JSON" in str(failure(b"\xff", vkey))
    assert "not in RFC 8785 canonical form" in str(failure(b'{ "a": 1}', vkey))
    pretty = json.dumps(json.loads(valid.data), indent=2).encode()
    assert "canonical" in str(failure(pretty, vkey))
    body = body_of(valid.data)
    del body["keys"]
    assert "'payload' must have exactly the members" in str(failure(
        seal(body, signer_of(world)), vkey))
    body = body_of(valid.data)
    body["persons"] = []
    assert failure(seal(body, signer_of(world)), vkey) == "manifest: the manifest lists no " \
        "person"
    body = body_of(valid.data)
    body["persons"].append(copy.deepcopy(body["persons"][0]))
    assert "is listed twice" in str(failure(seal(body, signer_of(world)), vkey))


def test_the_service_never_signs_what_its_verifier_rejects(
        world: World, people: People, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """A bug in the database-side decision cannot put anyone into a signed manifest."""
    import consent._manifest as building
    from policies import Decision

    def lenient(*_args: Any, **_kwargs: Any) -> Decision:
        return Decision(True, (), "0" * 64, "explicit-consent", "0" * 64)

    monkeypatch.setattr(building, "decide", lenient)
    with pytest.raises(ManifestRefused):
        build(world, [people.ivan.id, people.nina.id])
    (logged,) = [r for r in caplog.records if r.name == "consent._manifest"]
    assert people.nina.id in logged.getMessage()
    assert "insufficient_signers" in logged.getMessage()
    assert people.nina.identity.full_name not in logged.getMessage()


def test_a_newer_manifest_closes_the_gap_after_the_checkpoint(world: World,
                                                              people: People) -> None:
    from consent._manifest_verify import verify_newer

    svc, vkey = world.service, vkey_of(world)
    older = build(world, [people.ivan.id, people.lena.id])
    record(world, people.lena, "consents", world.alice, world.carol,
           stated_on=dt.date(2026, 10, 20))
    newer = build(world, [people.ivan.id, people.lena.id])
    with svc.reading() as session:
        proof = svc.log.consistency_proof(session, older.checkpoint_size,
                                          newer.checkpoint_size)
    report = verify_newer(older.data, newer.data, proof, vkey)
    assert [p.statements for p in report.persons] == [1, 3]
    # A proof that does not connect the two checkpoints is named.
    with pytest.raises(ManifestInvalid, match="does not extend the older checkpoint"):
        verify_newer(older.data, newer.data, proof[1:], vkey)
    # A newer manifest that drops a person does not close the gap for that person.
    smaller = build(world, [people.lena.id])
    with pytest.raises(ManifestInvalid, match=f"person 0 \\({people.ivan.id}\\) is not listed"):
        verify_newer(older.data, smaller.data, proof, vkey)
    # A refusal recorded after the older checkpoint: no newer manifest can be had at all.
    record(world, people.ivan, "refuses", world.bob, stated_on=dt.date(2026, 10, 30))
    with pytest.raises(ManifestRefused):
        build(world, [people.ivan.id, people.lena.id])
    # ... and the older manifest still verifies offline: that is the gap the docs state.
    assert verify_manifest(older.data, vkey).ok


def test_a_rewritten_newer_chain_is_named(world: World, people: People) -> None:
    from consent._manifest_verify import verify_newer

    svc, vkey = world.service, vkey_of(world)
    older = build(world, [people.lena.id])
    record(world, people.lena, "consents", world.alice, world.carol,
           stated_on=dt.date(2026, 10, 20))
    body = body_of(build(world, [people.lena.id]).data)
    # A service that shows a shorter history in the newer manifest (head moved back).
    body["persons"][0]["statements"] = body["persons"][0]["statements"][:1]
    first_payload = base64.b64decode(body["persons"][0]["statements"][0]["envelope"]["payload"])
    body["persons"][0]["head"] = hashlib.sha256(first_payload).hexdigest()
    newer = seal(body, signer_of(world))
    size = Checkpoint.from_text(body["checkpoint"].split("\n\n")[0] + "\n").size
    with svc.reading() as session:
        proof = svc.log.consistency_proof(session, older.checkpoint_size, size)
    with pytest.raises(ManifestInvalid, match="the chain does not extend the older chain"):
        verify_newer(older.data, newer, proof, vkey)


def test_a_signature_row_written_into_the_database_does_not_reach_a_manifest(
        world: World, people: People) -> None:
    """Valid signature bytes that never went through the log (say, a corroboration Bob
    signed but never submitted, slipped into the database by whoever can write to it)
    convince the database-side decision, but not the log-backed manifest."""
    from consent import Envelope
    from consent._statements import statements_of
    from consent._tables import StatementSignature

    with world.service.reading() as session:
        (stored,) = statements_of(session, people.nina.id)
    unsent = sign_existing(Envelope.from_json(stored.envelope().to_json()), world.bob.keys[0])
    with world.service.transaction() as tx:
        tx.session.add(StatementSignature(
            statement_id=stored.statement_id, key_id=unsent.keyid,
            signer_user_id=world.bob.actor.user_id,
            signer_organisation_id=world.bob.actor.organisation_id or "",
            sig=unsent.sig, log_index=stored.log_index, recorded_at=tx.now))
    with pytest.raises(ManifestRefused):
        build(world, [people.nina.id])
