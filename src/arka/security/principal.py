"""Who is asking: principals, the roles (`docs/security.md`) and the permissions each grants.

`ROLE_PERMISSIONS` is the one table of role → permissions; the API checks permissions,
never role names, and `docs/security.md` shows this table (generated from it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# A person an API key belongs to: a user name or e-mail address. No ':' so that it never
# looks like the person of a key without an owner, `apikey:<id>`.
PERSON_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
SYSTEM_TENANT = "_system"  # audit events that belong to no tenant (failed logins)

PERMISSIONS: dict[str, str] = {
    "rules:read": "read rules, rulesets and reference tables; validate a rule",
    "rules:write": "deploy rules, rulesets and reference tables",
    "rules:approve": "approve or reject pending rules, rulesets and tables (not one's own)",
    "evaluations:create": "evaluate (single and batch)",
    "evaluations:read": "read and list evaluations (with their inputs), replay them",
    "proofs:read": "verify trust proofs, get inclusion proofs",
    "log:read": "read signed tree heads, checkpoints, tiles, consistency proofs and anchors",
    "log:entries": "read the log's entry bundles (every tenant's trust proofs)",
    "audit:read": "read the audit log and verify its hash chain",
    "keys:manage": "create, list and revoke API keys",
    "screening:run": "screen names against the sanctions lists (POST /api/v1/screen)",
    "screening:read": "read the screening allowlist",
    "screening:write": "record and revoke allowlist decisions (false positives)",
    "screening:approve": "approve or reject pending allowlist decisions (not one's own)",
    "cases:read": "read and list cases, queues, attachments; export a case bundle",
    "cases:work": "work cases: assign, claim, release, comment, attach, escalate",
    "cases:close": "close and reopen cases, confirm or reject another person's closing",
    "webhooks:manage": "create, list, disable and rotate webhook subscriptions; read and "
                       "redeliver their deliveries",
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "compliance_officer": frozenset({"rules:read", "rules:write", "rules:approve",
                                     "evaluations:create",
                                     "evaluations:read", "proofs:read", "log:read",
                                     "screening:run", "screening:read", "screening:write",
                                     "screening:approve", "cases:read", "cases:work",
                                     "cases:close", "webhooks:manage"}),
    "analyst": frozenset({"rules:read", "evaluations:read", "proofs:read", "log:read",
                          "screening:run", "screening:read", "screening:write",
                          "cases:read", "cases:work"}),
    "auditor": frozenset({"rules:read", "evaluations:read", "proofs:read", "log:read",
                          "audit:read", "screening:read", "cases:read"}),
    "service": frozenset({"evaluations:create", "screening:run"}),
    "viewer": frozenset({"rules:read", "log:read"}),
}
ROLES = tuple(ROLE_PERMISSIONS)


def permissions_of(roles: frozenset[str] | set[str] | tuple[str, ...]) -> frozenset[str]:
    out: set[str] = set()
    for role in roles:
        out |= ROLE_PERMISSIONS.get(role, frozenset())
    return frozenset(out)


@dataclass(frozen=True)
class Actor:
    """Who did something, for the audit log and for four-eyes checks.

    `person`: who is behind the credential (an API key's owner, a JWT's subject); None for
    operators and the system, who are their `subject`. `issuer`: the person who created
    the API key through the API, when that is someone else (they could hold the key too).
    """
    subject: str
    request_id: str | None = None
    person: str | None = None
    issuer: str | None = None

    @property
    def parties(self) -> frozenset[str]:
        """Every person who may have acted: compared without case."""
        return parties_of(self.person or self.subject, self.issuer)


def parties_of(person: str, issuer: str | None = None) -> frozenset[str]:
    return frozenset(p.casefold() for p in (person, issuer) if p)


SYSTEM_ACTOR = Actor("system")


@dataclass(frozen=True)
class Principal:
    tenant: str
    subject: str  # "apikey:<id>", "jwt:<sub>" or "dev:no-auth"
    roles: frozenset[str]
    method: str  # "api_key", "jwt" or "none"
    key_id: str | None = None
    permissions: frozenset[str] = field(default=frozenset())
    person: str | None = None  # an API key's owner, a JWT's subject (see Actor)
    issuer: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "permissions", permissions_of(self.roles))

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @property
    def bucket(self) -> str:
        """The rate-limit bucket: one per credential within its tenant."""
        return f"{self.tenant}:{self.subject}"

    def actor(self, request_id: str | None = None) -> Actor:
        return Actor(self.subject, request_id, self.person, self.issuer)


def role_table_markdown() -> str:
    perms = list(PERMISSIONS)
    head = "| role | " + " | ".join(f"`{p}`" for p in perms) + " |"
    sep = "|---|" + "---|" * len(perms)
    rows = [f"| {role} | " + " | ".join("yes" if p in granted else "" for p in perms) + " |"
            for role, granted in ROLE_PERMISSIONS.items()]
    legend = "\n".join(f"- `{p}`: {text}" for p, text in PERMISSIONS.items())
    return "\n".join([head, sep, *rows]) + "\n\n" + legend + "\n"
