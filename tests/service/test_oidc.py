"""People sign in with OpenID Connect (bearer JWTs, RS256) beside the API tokens; both databases.

A test RSA key (``cryptography``) signs the JWTs (PyJWT); its JWKS is a file in
``tmp_path`` or is served by a local ``http.server`` thread (key rotation), and the
issuers are an ``oidc_file`` TOML. Real routes are called through the app's client.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from tests.service.conftest import OPERATOR, SCENARIO, settings_for
from typer.testing import CliRunner

from narvik.service.api.app import context_of, create_app
from narvik.service.api.context import ServiceContext
from narvik.service.api.oidc import OidcConfigError, load

A, B = "sigma2", "no-startups"
ISS = "https://idp.example.test/realms/narvik"
GROUPS_ISS = "https://groups.example.test"
OP = {"Authorization": f"Bearer {OPERATOR}"}
JOB = {"gpus": 1, "runtime_s": 600}


@dataclass(frozen=True)
class Key:
    private: rsa.RSAPrivateKey
    kid: str

    def jwk(self) -> dict[str, Any]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        jwk.update(kid=self.kid, use="sig", alg="RS256")
        return jwk  # type: ignore[no-any-return]

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": kid or self.kid})


def new_key(kid: str) -> Key:
    return Key(rsa.generate_private_key(public_exponent=65537, key_size=2048), kid)


@pytest.fixture(scope="module")
def keys() -> dict[str, Key]:
    return {kid: new_key(kid) for kid in ("k1", "k2", "k3", "rogue")}


def claims(aud: str = "narvik-sigma2", iss: str = ISS, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": iss, "aud": aud, "sub": "ola.nordmann", "iat": now, "exp": now + 600}
    base.update(extra)
    return base


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], body: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"


OIDC_TOML = f"""
[[issuer]]
issuer = "{ISS}"
audience = "narvik-sigma2"
jwks_file = "jwks.json"
tenant = "{A}"
leeway_s = 5

[[issuer]]
issuer = "{ISS}"
audience = "narvik-no-startups"
jwks_file = "jwks.json"
tenant = "{B}"
leeway_s = 5

[[issuer]]
issuer = "{ISS}"
audience = "narvik-ghost"
jwks_file = "jwks.json"
tenant = "ghost"

[[issuer]]
issuer = "{GROUPS_ISS}"
audience = "narvik"
jwks_file = "jwks.json"
tenant_claim = "narvik_tenant"
role_claim = "groups"
tenant_roles = ["narvik-users"]
operator_roles = ["narvik-operators"]
"""


@dataclass
class Site:
    client: TestClient
    ctx: ServiceContext
    keys: dict[str, Key]


@pytest.fixture
def site(db_url: str, tmp_path: Path, keys: dict[str, Key]) -> Iterator[Site]:
    jwks = {"keys": [keys["k1"].jwk(), keys["k2"].jwk()]}
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    (tmp_path / "oidc.toml").write_text(OIDC_TOML)
    app = create_app(settings_for(db_url, tmp_path, oidc_file=tmp_path / "oidc.toml"))
    with TestClient(app) as client:
        yield Site(client, context_of(app), keys)


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    return r.json()


def test_oidc_users_act_for_their_own_tenant_only(site: Site) -> None:
    c, k1 = site.client, site.keys["k1"]
    alice = bearer(k1.sign(claims("narvik-sigma2", sub="alice")))
    bob = bearer(site.keys["k2"].sign(claims(["narvik-no-startups", "other"], sub="bob")))
    theirs = ok(c.post("/api/v1/jobs", json={**JOB, "tenant": B}, headers=OP), 201)
    mine = ok(c.post("/api/v1/jobs", json=JOB, headers=alice), 201)
    assert mine["tenant"] == A
    ok(c.post("/api/v1/jobs", json=JOB, headers=bob), 201)

    seen_a = ok(c.get("/api/v1/jobs", headers=alice))["jobs"]
    assert [j["id"] for j in seen_a] == [mine["id"]]
    seen_b = ok(c.get("/api/v1/jobs", headers=bob))["jobs"]
    assert {j["tenant"] for j in seen_b} == {B} and len(seen_b) == 2
    assert c.get(f"/api/v1/jobs/{theirs['id']}", headers=alice).status_code == 404
    # A tenant user acts for itself only, and never as an operator.
    assert c.post("/api/v1/jobs", json={**JOB, "tenant": B}, headers=alice).status_code == 403
    assert c.get("/api/v1/jobs", params={"tenant": B}, headers=alice).status_code == 403
    r = c.post("/api/v1/tokens", json={"role": "operator"}, headers=alice)
    assert r.status_code == 403, r.text
    # API tokens work beside it.
    ok(c.get("/api/v1/jobs", headers=OP))


def test_claims_map_to_tenant_and_role(site: Site) -> None:
    c, k1 = site.client, site.keys["k1"]
    user = claims("narvik", GROUPS_ISS, narvik_tenant=B, groups=["staff", "narvik-users"])
    job = ok(c.post("/api/v1/jobs", json=JOB, headers=bearer(k1.sign(user))), 201)
    assert job["tenant"] == B
    # An operator by group: may act for any tenant and mint an API token (no token row
    # of its own to re-check: its JWT was verified for this very request).
    op = bearer(k1.sign(claims("narvik", GROUPS_ISS, groups="narvik-operators")))
    ok(c.post("/api/v1/jobs", json={**JOB, "tenant": A}, headers=op), 201)
    made = ok(c.post("/api/v1/tokens", json={"role": "tenant", "tenant": A}, headers=op), 201)
    ok(c.get("/api/v1/jobs", headers=bearer(made["token"])))
    ok(c.post(f"/api/v1/tokens/{made['id']}/revoke", headers=op))


def test_every_bad_jwt_is_a_clear_401(site: Site, tmp_path: Path) -> None:
    c, good, rogue = site.client, site.keys["k1"], site.keys["rogue"]
    now = int(time.time())
    public_pem = good.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_head = unsigned({"alg": "HS256", "typ": "JWT", "kid": "k1"}, claims())
    hs256 = f"{hs_head}.{b64(hmac.new(public_pem, hs_head.encode(), hashlib.sha256).digest())}"
    cases = {
        "wrong issuer": (good.sign(claims(iss="https://evil.example")), "issuer"),
        "wrong audience": (good.sign(claims(aud="someone-else")), "audience"),
        "expired": (good.sign(claims(iat=now - 7200, exp=now - 3600)), "expired"),
        "not yet valid": (good.sign(claims(nbf=now + 3600)), "not yet valid"),
        "issued in the future": (good.sign(claims(iat=now + 3600)), "not yet valid"),
        "no exp": (good.sign({k: v for k, v in claims().items() if k != "exp"}), "exp"),
        "bad signature": (rogue.sign(claims(), kid="k1"), "signature"),
        "unknown kid": (rogue.sign(claims()), "unknown signing key"),
        "alg none": (unsigned({"alg": "none", "kid": "k1"}, claims()) + ".", "'none'"),
        "alg HS256": (hs256, "'HS256'"),
        "tenant not on the site": (good.sign(claims(aud="narvik-ghost")), "not a narvik tenant"),
        "no tenant claim": (
            good.sign(claims("narvik", GROUPS_ISS, groups=["narvik-users"])),
            "no tenant in claim 'narvik_tenant'",
        ),
        "no role": (
            good.sign(claims("narvik", GROUPS_ISS, narvik_tenant=A, groups=["staff"])),
            "none of the roles",
        ),
        "malformed": ("abc.def.ghi", "malformed"),
    }
    for case, (token, says) in cases.items():
        for method in ("GET", "POST"):
            r = c.request(
                method,
                "/api/v1/jobs",
                json=JOB if method == "POST" else None,
                headers=bearer(token),
            )
            assert r.status_code == 401, (case, method, r.status_code, r.text)
            assert says in r.json()["detail"], (case, r.json()["detail"])
            assert r.headers["WWW-Authenticate"] == "Bearer"
    # Nothing was queued by any of them.
    assert ok(c.get("/api/v1/jobs", headers=OP))["total"] == 0


def test_a_jwt_without_oidc_configured_is_refused(db_url: str, tmp_path: Path, keys: Any) -> None:
    app = create_app(settings_for(db_url, tmp_path))
    with TestClient(app) as c:
        r = c.get("/api/v1/jobs", headers=bearer(keys["k1"].sign(claims())))
        assert r.status_code == 401 and "oidc_file" in r.json()["detail"], r.text


class _Jwks:
    """A JWKS endpoint on a local port; counts its fetches."""

    def __init__(self, keys: list[Key]):
        self.keys = keys
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.fetches += 1
                body = json.dumps({"keys": [k.jwk() for k in outer.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_jwks_uri_is_cached_and_fetched_again_for_a_new_key(
    db_url: str, tmp_path: Path, keys: dict[str, Key]
) -> None:
    endpoint = _Jwks([keys["k1"]])
    (tmp_path / "oidc.toml").write_text(
        f"""
[[issuer]]
issuer = "{ISS}"
audience = "narvik-sigma2"
jwks_uri = "{endpoint.url}"
tenant = "{A}"
jwks_cooldown_s = 0

[[issuer]]
issuer = "{ISS}"
audience = "narvik-no-startups"
jwks_uri = "{endpoint.url}"
tenant = "{B}"
"""
    )
    app = create_app(settings_for(db_url, tmp_path, oidc_file=tmp_path / "oidc.toml"))
    try:
        with TestClient(app) as c:
            assert endpoint.fetches == 0  # fetched when first needed, not at start
            for n in range(3):  # new tokens, same key: the key set is cached
                token = keys["k1"].sign(claims(sub=f"user{n}"))
                ok(c.post("/api/v1/jobs", json=JOB, headers=bearer(token)), 201)
            assert endpoint.fetches == 1
            # The second issuer entry has a client of its own: it fetches once too.
            b_token = keys["k1"].sign(claims("narvik-no-startups"))
            ok(c.get("/api/v1/jobs", headers=bearer(b_token)))
            assert endpoint.fetches == 2

            endpoint.keys = [keys["k1"], keys["k2"]]  # the issuer rotates in a new key
            token = keys["k2"].sign(claims(sub="after-rotation"))
            ok(c.get("/api/v1/jobs", headers=bearer(token)))
            assert endpoint.fetches == 3  # an unknown kid: fetched again at once
            b_token = keys["k2"].sign(claims("narvik-no-startups"))
            ok(c.get("/api/v1/jobs", headers=bearer(b_token)))
            assert endpoint.fetches == 4
            # At most one forced fetch per cooldown (30 s by default): random kids cannot
            # make the service hammer the issuer.
            r = c.get("/api/v1/jobs", headers=bearer(keys["k3"].sign(claims("narvik-no-startups"))))
            assert r.status_code == 401 and "unknown signing key" in r.json()["detail"], r.text
            assert endpoint.fetches == 4

            endpoint.keys = [keys["k2"]]  # k1 retired
            r = c.get("/api/v1/jobs", headers=bearer(keys["k3"].sign(claims())))
            assert r.status_code == 401 and "unknown signing key" in r.json()["detail"], r.text
            assert endpoint.fetches == 5
            r = c.get("/api/v1/jobs", headers=bearer(keys["k1"].sign(claims(sub="late"))))
            assert r.status_code == 401, r.text  # the retired key signs nothing any more
    finally:
        endpoint.close()


def _write(tmp_path: Path, text: str, jwks: dict[str, Any] | None = None) -> Path:
    if jwks is not None:
        (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    path = tmp_path / "bad-oidc.toml"
    path.write_text(text)
    return path


BASE = f'issuer = "{ISS}"\naudience = "x"\njwks_file = "jwks.json"\ntenant = "{A}"\n'


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("issuer = [3]", "issuer[0]: must be a table"),
        ("issuer = 3", "issuer: give at least one [[issuer]] table"),
        ("[[issuer]]\n" + BASE.replace('audience = "x"\n', ""), "issuer[0].audience: missing"),
        ("[[issuer]]\n" + BASE + "colour = 1\n", "issuer[0].colour: unknown field"),
        ("[[issuer]]\n" + BASE.replace("jwks.json", "nope.json"), "issuer[0].jwks_file"),
        ("[[issuer]]\n" + BASE + 'jwks_uri = "https://x/jwks"\n', "issuer[0].jwks_uri"),
        ("[[issuer]]\n" + BASE.replace('tenant = "sigma2"', ""), "issuer[0].tenant: missing"),
        ("[[issuer]]\n" + BASE + 'role_claim = "groups"\n', "issuer[0].tenant_roles"),
        ("[[issuer]]\n" + BASE + "leeway_s = -1\n", "issuer[0].leeway_s"),
        ("[[issuer]]\n" + BASE + "[[issuer]]\n" + BASE, "issuer[1].audience: "),
        ("[issuers]\n", "issuers: unknown table"),
        ("[[issuer]\n", "not TOML"),
    ],
)
def test_a_bad_oidc_file_is_one_line_naming_file_and_field(
    tmp_path: Path, keys: dict[str, Key], text: str, says: str
) -> None:
    path = _write(tmp_path, text, {"keys": [keys["k1"].jwk()]})
    with pytest.raises(OidcConfigError) as err:
        load(path)
    message = str(err.value)
    assert str(path) in message and says in message, message
    assert "\n" not in message


def test_a_bad_jwks_file_and_narvik_serve_stops_with_one_line(
    tmp_path: Path, keys: dict[str, Key]
) -> None:
    path = _write(tmp_path, "[[issuer]]\n" + BASE)
    (tmp_path / "jwks.json").write_text('{"keys": "no"}')
    with pytest.raises(OidcConfigError, match=r"issuer\[0\]\.jwks_file: .* is not a JWKS"):
        load(path)

    from narvik.cli.main import _register, app

    _register()
    bad = _write(tmp_path, "[[issuer]]\n" + BASE.replace('audience = "x"\n', ""))
    db = f"sqlite:///{tmp_path / 'narvik.db'}"
    result = CliRunner().invoke(
        app,
        ["serve", "--db", db, "--scenario", SCENARIO],
        env={"NARVIK_OIDC_FILE": str(bad), "NARVIK_OPERATOR_TOKEN": OPERATOR, "COLUMNS": "400"},
    )
    assert result.exit_code == 2, result.output
    assert f"oidc_file {bad}: issuer[0].audience: missing" in result.output, result.output
