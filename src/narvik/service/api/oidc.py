"""Sign-in for people with OpenID Connect: bearer JWTs (RS256) checked against an issuer's JWKS.

Beside the API tokens (``nvk_...``, looked up in the token table), a bearer that looks
like a JWT (three base64url parts joined by dots) is an ID or access token of an
OpenID Connect issuer: its signature is checked against the issuer's published keys
(JWKS), then its issuer, audience, expiry (``exp``, required) and ``nbf``/``iat``, and
its claims are mapped to a narvik tenant and role. Only RS256 is accepted (never
``none``, never a shared-secret HS256). Anything wrong is a 401 whose detail says what.

The issuers are listed in a TOML file given by ``oidc_file`` (``NARVIK_OIDC_FILE``); a
bad file stops ``narvik serve`` at start with one line naming the file and the field.
One ``[[issuer]]`` table per (issuer, audience) pair, so an issuer can serve several
tenants, each with its own client (audience)::

    # Feide (Sikt): Norwegian universities' researchers sign in with their institution.
    [[issuer]]
    issuer = "https://auth.dataporten.no"          # the token's iss, exactly
    audience = "00000000-0000-0000-0000-000000000000"  # your client id at Feide
    jwks_uri = "https://auth.dataporten.no/openid/jwks"
    tenant = "uio-ml"                              # every user of this client acts for uio-ml
    leeway_s = 30                                  # clock skew allowed on exp/nbf/iat

    # A site-run issuer whose tokens name the tenant and carry groups for the role.
    [[issuer]]
    issuer = "https://login.stargate.example/realms/narvik"
    audience = "narvik"
    jwks_file = "keys/stargate-jwks.json"          # a local JWKS (relative to this file)
    tenant_claim = "narvik_tenant"                 # the claim that holds the tenant's name
    role_claim = "groups"                          # a string or a list of strings
    tenant_roles = ["narvik-users"]                # any of these: a tenant user
    operator_roles = ["narvik-operators"]          # any of these: an operator (optional)

Fields of an ``[[issuer]]``:

``issuer`` (required)
    The ``iss`` the tokens carry.
``audience`` (required)
    The ``aud`` they must carry (a string; a token's list of audiences must contain it).
``jwks_uri`` or ``jwks_file`` (exactly one)
    Where the public keys are: an http(s) URL fetched with :class:`jwt.PyJWKClient`
    (cached for ``jwks_cache_s``, default 300; fetched again at once when a token names an
    unknown ``kid``, at most once per ``jwks_cooldown_s``, default 30, so that random
    ``kid`` values cannot make the service hammer the issuer) or a local JWKS JSON file
    (read at start; read again, under the same cooldown, on an unknown ``kid``). Tokens
    must name their key with ``kid``.
``tenant`` or ``tenant_claim``
    The narvik tenant the users act for: a fixed tenant name, or the name of a claim
    (string) that holds it. A tenant that does not exist on the site is refused.
    Neither may be given only for an issuer of operators alone (``role_claim`` with
    ``operator_roles`` and no ``tenant_roles``).
``role_claim``, ``tenant_roles``, ``operator_roles`` (optional)
    Without ``role_claim`` every valid token is a tenant user. With it, the claim (a string
    or a list of strings) must hold one of ``operator_roles`` (an operator; checked first)
    or of ``tenant_roles`` (a tenant user); otherwise the token is refused.
``leeway_s`` (optional, default 30)
    Seconds of clock skew allowed on ``exp``, ``nbf`` and ``iat``.
``jwks_cache_s``, ``jwks_cooldown_s`` (optional)
    See ``jwks_uri``.

A person signed in this way has no row in the token table: their
:class:`~narvik.service.api.auth.Principal` has ``token_id`` None (nothing to revoke; the
token lapses at its ``exp``) and ``subject`` ``"<iss>#<sub>"``.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt import PyJWK, PyJWKClient, PyJWKSet

from narvik.service.api.auth import Principal
from narvik.service.api.errors import UnauthorizedError

ALGORITHM = "RS256"
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_FIELDS = {
    "issuer",
    "audience",
    "jwks_uri",
    "jwks_file",
    "tenant",
    "tenant_claim",
    "role_claim",
    "tenant_roles",
    "operator_roles",
    "leeway_s",
    "jwks_cache_s",
    "jwks_cooldown_s",
}
AUTH = "Authorization"


class OidcConfigError(ValueError):
    """The OIDC file is wrong: one line naming the file and the field."""


def looks_like_jwt(bearer: str) -> bool:
    """Three base64url parts joined by dots (the signature may be empty: alg none)."""
    return _JWT_SHAPE.fullmatch(bearer) is not None


class _Keys:
    """The public keys of one issuer, by ``kid``; fetched again on an unknown one."""

    def __init__(self, where: str, cooldown_s: float, fetch: Callable[[bool], list[PyJWK]]):
        self.where = where
        self._cooldown_s = cooldown_s
        self._fetch = fetch
        self._lock = threading.Lock()
        self._last_refresh = float("-inf")

    def key(self, kid: str) -> PyJWK:
        with self._lock:
            found = _match(self._fetch(False), kid)
            if found is None and time.monotonic() - self._last_refresh >= self._cooldown_s:
                self._last_refresh = time.monotonic()
                found = _match(self._fetch(True), kid)
        if found is None:
            raise UnauthorizedError(f"unknown signing key kid {kid!r} (not in {self.where})", AUTH)
        return found


def _match(keys: list[PyJWK], kid: str) -> PyJWK | None:
    return next((k for k in keys if k.key_id == kid), None)


def _uri_keys(uri: str, cache_s: float, cooldown_s: float) -> _Keys:
    client = PyJWKClient(uri, cache_jwk_set=True, lifespan=cache_s, timeout=5)

    def fetch(refresh: bool) -> list[PyJWK]:
        try:
            return client.get_signing_keys(refresh=refresh)
        except jwt.PyJWKClientError as exc:
            raise UnauthorizedError(
                f"cannot get the issuer's keys from {uri}: {exc}", AUTH
            ) from exc

    return _Keys(uri, cooldown_s, fetch)


def _read_jwks(path: Path) -> list[PyJWK]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("not a JSON object with keys")
    return [k for k in PyJWKSet.from_dict(data).keys if k.public_key_use in ("sig", None)]


def _file_keys(path: Path, cooldown_s: float) -> _Keys:
    cached = _read_jwks(path)

    def fetch(refresh: bool) -> list[PyJWK]:
        nonlocal cached
        if refresh:
            # A file that cannot be read (being replaced) keeps the keys read before.
            with contextlib.suppress(OSError, ValueError, jwt.PyJWTError):
                cached = _read_jwks(path)
        return cached

    return _Keys(str(path), cooldown_s, fetch)


@dataclass(frozen=True)
class IssuerConfig:
    where: str
    """``<file>: issuer[i]``, to name it in errors."""
    issuer: str
    audience: str
    keys: _Keys = field(repr=False, compare=False)
    tenant: str | None = None
    tenant_claim: str | None = None
    role_claim: str | None = None
    tenant_roles: frozenset[str] = frozenset()
    operator_roles: frozenset[str] = frozenset()
    leeway_s: float = 30.0


def load(path: Path) -> OidcVerifier:
    """The issuers of an OIDC file; :class:`OidcConfigError` names the file and field."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OidcConfigError(f"oidc_file {path}: cannot read it: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise OidcConfigError(f"oidc_file {path}: not TOML: {exc}") from exc
    extra = sorted(set(raw) - {"issuer"})
    if extra:
        raise OidcConfigError(f"oidc_file {path}: {extra[0]}: unknown table (use [[issuer]])")
    entries = raw.get("issuer")
    if not isinstance(entries, list) or not entries:
        raise OidcConfigError(f"oidc_file {path}: issuer: give at least one [[issuer]] table")
    issuers = [_issuer(path, i, entry) for i, entry in enumerate(entries)]
    seen: set[tuple[str, str]] = set()
    for item in issuers:
        pair = (item.issuer, item.audience)
        if pair in seen:
            raise OidcConfigError(
                f"{item.where}.audience: {pair[0]} with audience {pair[1]!r} is listed twice"
            )
        seen.add(pair)
    return OidcVerifier(issuers)


def _issuer(path: Path, i: int, entry: Any) -> IssuerConfig:
    where = f"oidc_file {path}: issuer[{i}]"

    def bad(name: str, why: str) -> OidcConfigError:
        return OidcConfigError(f"{where}.{name}: {why}")

    if not isinstance(entry, dict):
        raise OidcConfigError(f"{where}: must be a table")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise bad(unknown[0], f"unknown field (known: {', '.join(sorted(_FIELDS))})")

    def text(name: str, required: bool = False) -> str | None:
        value = entry.get(name)
        if value is None:
            if required:
                raise bad(name, "missing")
            return None
        if not isinstance(value, str) or not value.strip():
            raise bad(name, "must be a non-empty string")
        return value

    def number(name: str, default: float, low: float) -> float:
        value = entry.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < low:
            raise bad(name, f"must be a number >= {low:g}")
        return float(value)

    def names(name: str) -> frozenset[str]:
        value = entry.get(name, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad(name, "must be a list of strings")
        return frozenset(value)

    issuer = text("issuer", required=True)
    audience = text("audience", required=True)
    assert issuer is not None and audience is not None
    tenant, tenant_claim = text("tenant"), text("tenant_claim")
    role_claim = text("role_claim")
    tenant_roles, operator_roles = names("tenant_roles"), names("operator_roles")
    leeway = number("leeway_s", 30.0, 0.0)
    cache_s = number("jwks_cache_s", 300.0, 1.0)
    cooldown_s = number("jwks_cooldown_s", 30.0, 0.0)
    if tenant is not None and tenant_claim is not None:
        raise bad("tenant_claim", "give tenant or tenant_claim, not both")
    if role_claim is None and (tenant_roles or operator_roles):
        raise bad("role_claim", "missing (tenant_roles and operator_roles need it)")
    if role_claim is not None and not (tenant_roles or operator_roles):
        raise bad("tenant_roles", "give tenant_roles or operator_roles with role_claim")
    if tenant is None and tenant_claim is None and (role_claim is None or tenant_roles):
        raise bad("tenant", "missing (give tenant = name, or tenant_claim = claim)")
    uri, file = text("jwks_uri"), text("jwks_file")
    if (uri is None) == (file is None):
        raise bad("jwks_uri", "give exactly one of jwks_uri and jwks_file")
    if uri is not None:
        if not uri.startswith(("https://", "http://")):
            raise bad("jwks_uri", "must be an http(s) URL")
        keys = _uri_keys(uri, cache_s, cooldown_s)
    else:
        assert file is not None
        jwks_path = (path.parent / file).resolve()
        try:
            keys = _file_keys(jwks_path, cooldown_s)
        except OSError as exc:
            raise bad("jwks_file", f"cannot read {jwks_path}: {exc.strerror}") from exc
        except (ValueError, jwt.PyJWTError) as exc:
            raise bad("jwks_file", f"{jwks_path} is not a JWKS: {exc}") from exc
    return IssuerConfig(
        where=where,
        issuer=issuer,
        audience=audience,
        keys=keys,
        tenant=tenant,
        tenant_claim=tenant_claim,
        role_claim=role_claim,
        tenant_roles=tenant_roles,
        operator_roles=operator_roles,
        leeway_s=leeway,
    )


TenantLookup = Callable[[str], int | None]
"""A tenant's id by name (None: no such tenant)."""


class OidcVerifier:
    """Checks a bearer JWT against the configured issuers and maps it to a principal."""

    def __init__(self, issuers: list[IssuerConfig]):
        self.issuers = issuers

    def authenticate(self, token: str, tenant_id: TenantLookup) -> tuple[Principal, float]:
        """The caller and the wall time (s since the epoch) its token lapses."""
        header, unverified = _peek(token)
        alg = header.get("alg")
        if alg != ALGORITHM:
            raise UnauthorizedError(f"JWT algorithm {alg!r} is not allowed (only RS256)", AUTH)
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise UnauthorizedError("JWT header names no signing key (kid)", AUTH)
        iss = unverified.get("iss")
        candidates = [c for c in self.issuers if c.issuer == iss]
        if not candidates:
            raise UnauthorizedError(f"JWT issuer {iss!r} is not configured", AUTH)
        aud = unverified.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        config = next((c for c in candidates if c.audience in auds), None)
        if config is None:
            raise UnauthorizedError(f"JWT audience {aud!r} is not accepted for issuer {iss}", AUTH)
        key = config.keys.key(kid)
        if not isinstance(key.key, RSAPublicKey):
            raise UnauthorizedError(f"signing key {kid!r} is not an RSA public key", AUTH)
        claims = _verify(token, key.key, config)
        role = _role(claims, config)
        subject = f"{config.issuer}#{claims.get('sub', '')}"
        expires = float(claims["exp"]) + config.leeway_s
        if role == "operator":
            return Principal("operator", None, None, None, subject), expires
        name = config.tenant
        if config.tenant_claim is not None:
            value = claims.get(config.tenant_claim)
            if not isinstance(value, str) or not value:
                raise UnauthorizedError(f"JWT has no tenant in claim {config.tenant_claim!r}", AUTH)
            name = value
        assert name is not None
        found = tenant_id(name)
        if found is None:
            raise UnauthorizedError(f"tenant {name!r} of this sign-in is not a narvik tenant", AUTH)
        return Principal("tenant", found, name, None, subject), expires


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims before any check: only to pick the issuer and key."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise UnauthorizedError(f"malformed JWT: {exc}", AUTH) from exc
    return header, claims


def _verify(token: str, key: RSAPublicKey, config: IssuerConfig) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=config.audience,
            issuer=config.issuer,
            leeway=config.leeway_s,
            options={"require": ["exp", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise UnauthorizedError("JWT expired (exp)", AUTH) from exc
    except jwt.ImmatureSignatureError as exc:
        raise UnauthorizedError(f"JWT not yet valid: {exc}", AUTH) from exc
    except jwt.InvalidSignatureError as exc:
        raise UnauthorizedError("JWT signature does not verify", AUTH) from exc
    except jwt.InvalidAudienceError as exc:
        raise UnauthorizedError(f"JWT audience is wrong: {exc}", AUTH) from exc
    except jwt.InvalidIssuerError as exc:
        raise UnauthorizedError(f"JWT issuer is wrong: {exc}", AUTH) from exc
    except jwt.MissingRequiredClaimError as exc:
        raise UnauthorizedError(f"JWT lacks a claim: {exc}", AUTH) from exc
    except jwt.PyJWTError as exc:
        raise UnauthorizedError(f"JWT refused: {exc}", AUTH) from exc
    return claims


def _role(claims: dict[str, Any], config: IssuerConfig) -> str:
    if config.role_claim is None:
        return "tenant"
    value = claims.get(config.role_claim)
    items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    held = {v for v in items if isinstance(v, str)}
    if held & config.operator_roles:
        return "operator"
    if held & config.tenant_roles:
        return "tenant"
    raise UnauthorizedError(
        f"JWT claim {config.role_claim!r} holds none of the roles of issuer {config.issuer}", AUTH
    )
