"""exchange-consent domain core.

Persons, statements, keys, canonical bytes, encryption at rest, and the service operations
that verify, store and log in one transaction. Errors derive from :class:`ConsentError`
(the tree is drawn in ``consent._errors``).
"""

from consent._canonical import canonical_bytes, parse_json_strict, sha256_hex
from consent._db import Database, migrate
from consent._envelope import STATEMENT_PAYLOAD_TYPE, Envelope, Signature, pae
from consent._errors import (
    ConfigurationError,
    Conflict,
    ConsentError,
    DecryptionError,
    DuplicateSignature,
    DuplicateStatement,
    Forbidden,
    ImportRejected,
    InvalidEnvelope,
    InvalidIdentity,
    InvalidInput,
    InvalidPublicKey,
    InvalidSignature,
    InvalidStatement,
    KeyFileError,
    KeyNotUsable,
    KeystoreError,
    NotFound,
    StaleChain,
)
from consent._instance import init_instance, open_instance, rotate_data_key
from consent._keys import KeyRecord, key_id_of
from consent._manifest import BuiltManifest, ManifestRefused, build_manifest
from consent._manifest_verify import (
    ManifestInvalid,
    ManifestReport,
    PersonOutcome,
    verify_manifest,
    verify_newer,
)
from consent._persons import Identity, ImportReport, PersonRecord, commitment_of
from consent._service import ConsentService, OrganisationRecord, Receipt, UserRecord, utcnow
from consent._signing import build_payload, public_key_bytes, sign_envelope, sign_existing
from consent._statement import StatementPayload, StatementScope, parse_statement_payload
from consent._statements import StoredStatement
from consent._tx import ROLES, Actor, Role

__all__ = [
    "ROLES",
    "STATEMENT_PAYLOAD_TYPE",
    "Actor",
    "BuiltManifest",
    "ConfigurationError",
    "Conflict",
    "ConsentError",
    "ConsentService",
    "Database",
    "DecryptionError",
    "DuplicateSignature",
    "DuplicateStatement",
    "Envelope",
    "Forbidden",
    "Identity",
    "ImportRejected",
    "ImportReport",
    "InvalidEnvelope",
    "InvalidIdentity",
    "InvalidInput",
    "InvalidPublicKey",
    "InvalidSignature",
    "InvalidStatement",
    "KeyFileError",
    "KeyNotUsable",
    "KeyRecord",
    "KeystoreError",
    "ManifestInvalid",
    "ManifestRefused",
    "ManifestReport",
    "NotFound",
    "OrganisationRecord",
    "PersonOutcome",
    "PersonRecord",
    "Receipt",
    "Role",
    "Signature",
    "StaleChain",
    "StatementPayload",
    "StatementScope",
    "StoredStatement",
    "UserRecord",
    "build_manifest",
    "build_payload",
    "canonical_bytes",
    "commitment_of",
    "init_instance",
    "key_id_of",
    "migrate",
    "open_instance",
    "pae",
    "parse_json_strict",
    "parse_statement_payload",
    "public_key_bytes",
    "rotate_data_key",
    "sha256_hex",
    "sign_envelope",
    "sign_existing",
    "utcnow",
    "verify_manifest",
    "verify_newer",
]
