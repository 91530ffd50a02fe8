"""Authentication: JWT bearer tokens and API keys, to a `Principal`.

JWTs: HS256 with the configured secret, or RS256/ES256 with keys from a JWKS URL (cached
by PyJWT's client). `exp`, `sub` and the tenant claim are required; issuer and audience
are checked when configured; `leeway_seconds` allows clock skew. Any other algorithm,
`none` included, is refused.

API keys: `arka_<12 hex id>_<43 url-safe characters>` shown once at creation; only the
SHA-256 of the whole key is stored. Expired and revoked keys are refused; the last-used
time is updated at most once a minute per key and process. A looked-up key is cached for
`KEY_CACHE_SECONDS`, so a revocation made by another process takes effect within that
time (at once in the process that revoked it).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import jwt

from arka.base.errors import ArkaError, AuthError, Forbidden
from arka.security.principal import PERSON_RE, ROLES, TENANT_RE, Principal

KEY_CACHE_SECONDS = 2.0
TOUCH_SECONDS = 60.0
MIN_SECRET_BYTES = 32
ASYMMETRIC = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")


__all__ = ["AuthError", "Authenticator", "AuthSettings", "Forbidden", "KeyLookup"]


class KeyLookup(Protocol):
    """What authentication needs of the API key store."""

    def by_hash(self, secret_hash: str) -> dict[str, Any] | None: ...

    def touch(self, key_id: str, at: datetime) -> None: ...


@dataclass(frozen=True)
class AuthSettings:
    enabled: bool = True
    jwt_secret: str | None = field(default=None, repr=False)
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    leeway_seconds: int = 30
    tenant_claim: str = "tenant"
    roles_claim: str = "roles"
    jwks_cache_seconds: int = 300

    def check(self) -> None:
        if self.jwt_secret is not None and len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise ArkaError(f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes for "
                            f"HS256 (got {len(self.jwt_secret.encode())}); generate one with: "
                            "python -c \"import secrets; print(secrets.token_urlsafe(48))\"")
        if self.jwks_url is not None and not self.jwks_url.startswith(("https://", "http://")):
            raise ArkaError("api.auth.jwks_url must be an http(s) URL")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_api_key() -> tuple[str, str]:
    """(key id, full key); the key is shown once and only its hash is stored."""
    key_id = secrets.token_hex(6)
    return key_id, f"arka_{key_id}_{secrets.token_urlsafe(32)}"


def key_person(row: dict[str, Any]) -> str:
    """The person an API key belongs to: its owner; a key stored without one (before
    owners existed, and not created by another key) is a person of its own."""
    return str(row.get("owner") or f"apikey:{row['id']}")


def check_person(owner: str) -> str:
    """An API key's owner as given: a user name or e-mail address."""
    if not PERSON_RE.fullmatch(owner):
        raise ArkaError(f"owner {owner[:60]!r} is not a person's name: use 1-128 characters "
                        "A-Z, a-z, 0-9, '.', '_', '@', '+' and '-', starting with a letter or "
                        "digit (a user name or e-mail address)", code="E_OWNER")
    return owner.lower()


def check_roles(roles: list[str] | tuple[str, ...]) -> list[str]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ArkaError(f"unknown role {unknown[0]!r}; roles are {', '.join(ROLES)}"
                        if unknown else f"give at least one role: {', '.join(ROLES)}")
    return sorted(set(roles))


def check_tenant(tenant: str) -> str:
    if not TENANT_RE.match(tenant):
        raise ArkaError(f"tenant {tenant!r} is not a valid tenant id: use 1-63 characters "
                        "a-z, 0-9, '-' and '_', starting with a letter or digit")
    return tenant


class Authenticator:
    def __init__(self, settings: AuthSettings, keys: KeyLookup):
        settings.check()
        self.settings = settings
        self.keys = keys
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True,
                                     lifespan=settings.jwks_cache_seconds, timeout=5) \
            if settings.jwks_url else None
        self._keys: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ API keys
    def forget(self, key_id: str) -> None:
        with self._lock:
            for h, (_, row) in list(self._keys.items()):
                if row is not None and row["id"] == key_id:
                    del self._keys[h]

    def needs_io(self, authorization: str | None, api_key: str | None) -> bool:
        """Whether authenticating these headers may touch the database or the network
        (so the caller should not do it on an event loop)."""
        if authorization:
            return self._jwks is not None
        if not api_key or not api_key.startswith("arka_"):
            return False
        now = time.monotonic()
        with self._lock:
            cached = self._keys.get(hash_key(api_key.strip()))
        if cached is None or now - cached[0] >= KEY_CACHE_SECONDS:
            return True
        row = cached[1]
        return row is not None and now - self._touched.get(row["id"], -1e9) > TOUCH_SECONDS

    def api_key(self, presented: str) -> Principal:
        if not presented.startswith("arka_") or len(presented) > 200:
            raise AuthError("X-API-Key is not an ARKA API key (they start with arka_)")
        h = hash_key(presented)
        now = time.monotonic()
        with self._lock:
            cached = self._keys.get(h)
        if cached is not None and now - cached[0] < KEY_CACHE_SECONDS:
            row = cached[1]
        else:
            row = self.keys.by_hash(h)
            with self._lock:
                self._keys[h] = (now, row)
                if len(self._keys) > 10_000:
                    self._keys.clear()
        if row is None:
            raise AuthError("unknown API key")
        wall = datetime.now(UTC)
        if row["revoked_at"] is not None:
            raise AuthError(f"API key {row['id']} was revoked")
        if row["expires_at"] is not None and row["expires_at"] <= wall:
            raise AuthError(f"API key {row['id']} expired")
        if now - self._touched.get(row["id"], -1e9) > TOUCH_SECONDS:
            self._touched[row["id"]] = now
            self.keys.touch(row["id"], wall)
        return Principal(row["tenant"], f"apikey:{row['id']}", frozenset(row["roles"]),
                         "api_key", key_id=row["id"], person=key_person(row),
                         issuer=row.get("issued_by"))

    # ------------------------------------------------------------ JWT
    def bearer(self, token: str) -> Principal:
        s = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("the bearer token is not a JWT") from None
        alg = header.get("alg")
        if alg == "HS256" and s.jwt_secret is not None:
            key: Any = s.jwt_secret
        elif alg in ASYMMETRIC and self._jwks is not None:
            try:
                key = self._jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientError as exc:
                raise AuthError(f"no JWKS key for this token: {exc}") from None
        else:
            accepted = (["HS256"] if s.jwt_secret else []) + (list(ASYMMETRIC) if self._jwks
                                                              else [])
            raise AuthError(f"JWT algorithm {alg!r} is not accepted here (accepted: "
                            f"{', '.join(accepted) or 'none configured'})")
        try:
            claims = jwt.decode(token, key, algorithms=[alg], issuer=s.issuer,
                                audience=s.audience, leeway=s.leeway_seconds,
                                options={"require": ["exp", "sub"],
                                         "verify_aud": s.audience is not None})
        except jwt.ExpiredSignatureError:
            raise AuthError("the JWT has expired") from None
        except jwt.InvalidAudienceError:
            raise AuthError("the JWT is for another audience") from None
        except jwt.InvalidIssuerError:
            raise AuthError("the JWT has another issuer") from None
        except jwt.InvalidSignatureError:
            raise AuthError("the JWT signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"the JWT lacks the {exc.claim!r} claim") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"the JWT is not valid: {exc}") from None
        tenant = claims.get(s.tenant_claim)
        if not isinstance(tenant, str) or not TENANT_RE.match(tenant):
            raise AuthError(f"the JWT's {s.tenant_claim!r} claim must name a tenant")
        raw = claims.get(s.roles_claim, [])
        roles = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
        known = frozenset(r for r in roles if isinstance(r, str) and r in ROLES)
        subject = str(claims["sub"])
        return Principal(tenant, f"jwt:{subject}", known, "jwt", person=subject)

    def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        if api_key and authorization:
            raise AuthError("send one credential: X-API-Key or Authorization, not both")
        if api_key:
            return self.api_key(api_key.strip())
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise AuthError("Authorization must be 'Bearer <JWT>'")
            if self.settings.jwt_secret is None and self._jwks is None:
                raise AuthError("JWT authentication is not configured on this server; use an "
                                "API key (X-API-Key)")
            return self.bearer(token.strip())
        raise AuthError("authentication required: send X-API-Key or Authorization: Bearer "
                        "<JWT>")
