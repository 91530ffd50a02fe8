"""API keys: create (shown once), list, revoke; the first admin key of a new install.

Every key belongs to a person, its `owner`, whom four-eyes approval compares (never key
ids). A key created through the API belongs to the person of the creating credential
unless the creator names another `owner`; then the creator is recorded as `issued_by`
and counts as a party of everything the key does (they could hold it). A key created by
an operator (`arka-cli apikey create --owner`) or the first admin key belongs to the named
owner, or without one is a person of its own (`apikey:<id>`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arka.app.audit import audit_event
from arka.base import values as V
from arka.base.errors import Forbidden, InputError
from arka.security.auth import (
    Authenticator,
    check_person,
    check_roles,
    check_tenant,
    hash_key,
    key_person,
    new_api_key,
)
from arka.security.principal import SYSTEM_ACTOR, Actor, parties_of, permissions_of
from arka.storage.ports import KeyStore
from arka.storage.sql.schema import DEFAULT_TENANT


class ApiKeyService:
    def __init__(self, store: KeyStore, auth: Authenticator):
        self.store = store
        self.auth = auth

    def create(self, tenant: str, name: str, roles: list[str], expires_at: datetime | None,
               actor: Actor = SYSTEM_ACTOR, granted: frozenset[str] | None = None,
               owner: str | None = None) -> dict[str, Any]:
        """A new API key; the returned view holds the key itself, shown only this once.
        `granted`: the creator's permissions, which the key may not exceed. `owner`: the
        person it is for (default: the creating credential's person; see the module)."""
        check_tenant(tenant)
        roles = check_roles(roles)
        if granted is not None and not permissions_of(set(roles)) <= granted:
            raise Forbidden("a key cannot have permissions its creator does not have")
        if not name or len(name) > 128:
            raise InputError("name must be 1-128 characters")
        if expires_at is not None and expires_at <= datetime.now(UTC):
            raise InputError("expires_at must be in the future")
        person = check_person(owner) if owner is not None else None
        key_id, key = new_api_key()
        # a credential's person creates it (through the API): it is theirs, or they issued it
        issued_by = actor.person
        person = person or actor.person or f"apikey:{key_id}"
        row = {"id": key_id, "tenant": tenant, "name": name, "roles": " ".join(roles),
               "secret_hash": hash_key(key), "created_at": datetime.now(UTC),
               "created_by": actor.subject, "expires_at": expires_at, "revoked_at": None,
               "last_used_at": None, "owner": person, "issued_by": issued_by}
        self.store.put(row, audit=audit_event(
            tenant, "apikey.create", f"apikey:{key_id}", actor=actor,
            details={"name": name, "roles": roles, "key_id": key_id,
                     "creator": actor.person or actor.subject, "owner": person,
                     "issued_by": issued_by,
                     "expires_at": V.datetime_text(expires_at) if expires_at else None}))
        return dict(key_view(dict(row, roles=roles)), key=key)

    def list(self, tenant: str) -> dict[str, Any]:
        items = [key_view(k) for k in self.store.list(tenant)]
        return {"items": items, "page": 1, "per_page": max(len(items), 1), "total": len(items)}

    def revoke(self, tenant: str, key_id: str, actor: Actor = SYSTEM_ACTOR) -> dict[str, Any]:
        row = self.store.revoke(tenant, key_id, audit=audit_event(
            tenant, "apikey.revoke", f"apikey:{key_id}", actor=actor))
        self.auth.forget(key_id)  # other processes: within KEY_CACHE_SECONDS
        return key_view(row)

    def parties(self, tenant: str, subject: str | None) -> frozenset[str]:
        """The persons behind a recorded actor (`deployed_by`): a key's owner and issuer,
        a JWT's subject, else the subject itself (operators, the system)."""
        if not subject:
            return frozenset()
        if subject.startswith("apikey:"):
            key_id = subject.removeprefix("apikey:")
            for row in self.store.list(tenant):
                if row["id"] == key_id:
                    return parties_of(key_person(row), row.get("issued_by"))
        if subject.startswith("jwt:"):
            return parties_of(subject.removeprefix("jwt:"))
        return parties_of(subject)

    def bootstrap(self) -> dict[str, Any] | None:
        """On first start with no API keys at all: an admin key for the default tenant."""
        if self.store.count():
            return None
        return self.create(DEFAULT_TENANT, "bootstrap admin", ["admin"], None,
                           Actor("system:bootstrap"))


def key_view(row: dict[str, Any]) -> dict[str, Any]:
    def t(v: datetime | None) -> str | None:
        return V.datetime_text(v) if v is not None else None
    return {"id": row["id"], "tenant": row["tenant"], "name": row["name"],
            "roles": list(row["roles"]), "prefix": f"arka_{row['id']}_",
            "created_at": t(row["created_at"]), "created_by": row["created_by"],
            "owner": key_person(row), "issued_by": row.get("issued_by"),
            "expires_at": t(row["expires_at"]), "revoked_at": t(row["revoked_at"]),
            "last_used_at": t(row["last_used_at"])}
