"""An instance on disk: init, reopen, key files, data-key rotation."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from audit import Verifier, open_checkpoint
from consent import ConfigurationError, init_instance, open_instance, rotate_data_key
from consent._tables import Person
from consent._tx import Actor


def test_init_open_and_rotate(tmp_path: Path, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("instances on disk use their own embedded SQLite file here")
    data = tmp_path / "instance"
    service, invitation = init_instance(data, env={})
    assert len(invitation) >= 40
    vkey = service.vkey()
    assert open_checkpoint(service.checkpoint(), Verifier.from_vkey(vkey)).size >= 3
    for path in (data / "keys").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "keys").stat().st_mode) == 0o700
    with pytest.raises(ConfigurationError):
        init_instance(data, env={})
    # A person to re-encrypt.
    with service.transaction() as tx:
        from consent._tables import Organisation, User

        tx.session.add(Organisation(id="00000000-0000-4000-8000-0000000000aa", name="O",
                                    created_at=tx.now))
        tx.session.add(User(id="00000000-0000-4000-8000-0000000000bb", username="adv",
                            role="advocate", organisation_id="00000000-0000-4000-8000-0000000000aa",
                            created_at=tx.now))
    actor = Actor("00000000-0000-4000-8000-0000000000bb", "advocate",
                  "00000000-0000-4000-8000-0000000000aa")
    person = service.register_person(actor, full_name="Rotated Person")
    service.db.dispose()
    key_id, changed = rotate_data_key(data, env={})
    assert changed == 2
    reopened = open_instance(data, env={})
    assert reopened.vkey() == vkey
    assert reopened.get_person(actor, person.id).identity.full_name == "Rotated Person"
    with reopened.reading() as session:
        row = session.get(Person, person.id)
        assert row is not None and reopened.data_keys.key_id_of(bytes(row.identity)) == key_id
        assert session.execute(select(Person)).first() is not None
    reopened.db.dispose()
    assert not os.environ.get("CONSENT_DATA_KEYS")
