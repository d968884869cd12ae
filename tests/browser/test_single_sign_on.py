"""Single sign-on in a real browser, with relying-party libraries nobody here
wrote: the webmail example (examples/webmail, on the Rust `openidconnect`
crate) and Python's authlib. A person signs in at the portal with password +
authenticator app and the app learns who they are and how they authenticated
(`amr`, `acr`); an app that asks for a phishing-resistant level makes the
portal ask for the person's security key; signing out of the app ends the
portal session too.

The webmail binary is `$WEBMAIL_BIN`, by default target/debug/nhsmal-webmail
(`cargo build -p nhsmal-webmail`).
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken
from playwright.sync_api import Page, expect

from harness import (
    REPO_ROOT,
    Portal,
    child_env,
    expect_path,
    free_port,
    sign_in_form_fill,
    sign_out,
)
from journeys import VERIFY_PATH, go_to_method_choice, prove_it_is_you, user_with_an_app
from test_passkeys import Authenticator, add_a_passkey
from test_security_key import CEREMONY_MS, KEY_NAME, SecurityKey, expect_the_ceremony_to_lead_to

STARTUP_TIMEOUT_S = 30
MFA = "urn:nhsmal:acr:mfa"
PHISHING_RESISTANT = "urn:nhsmal:acr:phr"


def webmail_bin() -> Path:
    raw = os.environ.get("WEBMAIL_BIN", str(REPO_ROOT / "target" / "debug" / "nhsmal-webmail"))
    path = Path(raw)
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"webmail example not found at {path}: build it with `cargo build -p nhsmal-webmail` "
            "or point WEBMAIL_BIN at it",
            pytrace=False,
        )
    return path


def register(portal: Portal, name: str, base: str, *extra: str) -> tuple[str, str]:
    """`nhsmal client add` for an app at `base`; its client id and secret."""
    out = portal.cli_ok(
        "client", "add", "--name", name,
        "--redirect-uri", f"{base}/callback",
        "--post-logout-redirect-uri", f"{base}/",
        *extra,
    ).stdout
    client_id = re.search(r"^client_id: (\S+)$", out, re.M)
    secret = re.search(r"^client_secret: (\S+)$", out, re.M)
    assert client_id and secret, out
    return client_id.group(1), secret.group(1)


@dataclasses.dataclass
class Webmail:
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def webmail(portal: Portal) -> Iterator[Webmail]:
    """The webmail example, registered (first-party) against the test portal
    with the CLI and started on a free port."""
    binary = webmail_bin()
    port = free_port()
    base = f"http://localhost:{port}"
    # As the mail service is: first-party, its ID tokens signed with ES256 (docs/DECISIONS.md).
    client_id, secret = register(
        portal, "NHSmal Webmail", base, "--first-party", "--id-token-alg", "ES256",
        "--backchannel-logout-uri", f"{base}/backchannel-logout",
    )
    log_path = portal.data_dir / "webmail.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(binary)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                **{k: v for k, v in child_env().items() if not k.startswith("WEBMAIL_")},
                "WEBMAIL_ISSUER": portal.base_url,
                "WEBMAIL_CLIENT_ID": client_id,
                "WEBMAIL_CLIENT_SECRET": secret,
                "WEBMAIL_LISTEN": f"127.0.0.1:{port}",
                "WEBMAIL_PUBLIC_URL": base,
            },
        )
    app = Webmail(port=port, process=process, log_path=log_path)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"the webmail exited with status {process.returncode}\n{app.log()}", pytrace=False)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the webmail did not answer within {STARTUP_TIMEOUT_S} s\n{app.log()}", pytrace=False)
            time.sleep(0.05)
        yield app
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def expect_the_inbox(page: Page, webmail: Webmail) -> None:
    expect(page.get_by_role("heading", level=1, name="Inbox", exact=True)).to_be_visible()
    assert page.url.startswith(webmail.base_url + "/"), page.url


def amr_shown(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("#amr li").all_inner_texts()]


def sign_in_at_the_webmail(page: Page, portal: Portal, webmail: Webmail, app) -> None:
    """From the webmail's home page: "Sign in with NHSmal", then password and
    authenticator app at the portal."""
    page.goto(webmail.base_url + "/")
    page.get_by_role("button", name="Sign in with NHSmal", exact=True).click()
    expect_path(page, "/sign-in")
    assert page.url.startswith(portal.base_url), page.url
    sign_in_form_fill(page, portal.user.email, portal.user.password)
    prove_it_is_you(page, app)
    expect_the_inbox(page, webmail)


def test_a_person_signs_in_to_the_webmail_with_password_and_app_and_signing_out_there_ends_the_portal_session(
    portal: Portal, page: Page, webmail: Webmail
) -> None:
    app = user_with_an_app(page, portal)
    sign_out(page)

    sign_in_at_the_webmail(page, portal, webmail, app)
    expect(page.locator("#email")).to_have_text(portal.user.email)
    expect(page.locator("#name")).to_have_text(portal.user.name)
    expect(page.locator("#organisation")).to_contain_text("Demo Pharmacy")
    amr = amr_shown(page)
    assert "otp" in amr and "mfa" in amr and "pwd" in amr, amr
    expect(page.locator("#acr")).to_have_text(MFA)
    expect(page.locator("#auth-time")).to_have_text(re.compile(r"^\d{4}-\d\d-\d\dT"))

    # Signed in at the portal too: the profile opens without a sign-in.
    page.goto(portal.url("/profile"))
    expect_path(page, "/profile")

    page.goto(webmail.base_url + "/")
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_role("button", name="Sign in with NHSmal", exact=True)).to_be_visible()
    assert page.url.startswith(webmail.base_url + "/"), page.url
    # RP-initiated logout ended the portal session as well.
    page.goto(portal.url("/profile"))
    expect_path(page, "/sign-in")


def test_signing_out_everywhere_at_the_portal_signs_the_webmail_out_by_back_channel_logout(
    portal: Portal, page: Page, new_page, webmail: Webmail
) -> None:
    app = user_with_an_app(page, portal)
    sign_out(page)
    sign_in_at_the_webmail(page, portal, webmail, app)

    # From another browser, where the person is signed in to the portal only.
    other = new_page()
    sign_in_form_fill_at(other, portal)
    prove_it_is_you(other, app)
    other.goto(portal.url("/profile/signed-in"))
    expect(other.locator("#app-access")).to_contain_text("NHSmal Webmail")
    other.get_by_role("button", name="Sign out everywhere", exact=True).click()
    expect_path(other, "/sign-in")

    # The webmail was told, and its session has ended.
    deadline = time.monotonic() + 10
    while True:
        page.goto(webmail.base_url + "/")
        if page.get_by_role("button", name="Sign in with NHSmal", exact=True).count() or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    expect(page.get_by_role("button", name="Sign in with NHSmal", exact=True)).to_be_visible()
    assert "back-channel logout: 1 session(s) ended" in webmail.log()


def sign_in_form_fill_at(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/sign-in"))
    sign_in_form_fill(page, portal.user.email, portal.user.password)


def test_authlib_signs_a_person_in_with_pkce_and_checks_the_id_token_against_the_jwks(
    portal: Portal, page: Page
) -> None:
    app = user_with_an_app(page, portal)
    sign_out(page)
    base = f"http://localhost:{free_port()}"
    client_id, secret = register(portal, "Rota Planner", base, "--first-party")
    callback = f"{base}/callback"
    meta = requests.get(portal.url("/.well-known/openid-configuration"), timeout=10).json()
    assert meta["issuer"] == portal.base_url

    client = OAuth2Session(
        client_id, secret,
        scope="openid email profile",
        redirect_uri=callback,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    verifier = generate_token(48)
    nonce = generate_token(20)
    uri, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    assert "code_challenge_method=S256" in uri

    # The app's callback, answered by the test: Chromium does the browser part.
    arrived: list[str] = []

    def at_the_callback(route) -> None:
        arrived.append(route.request.url)
        route.fulfill(status=200, content_type="text/html",
                      body="<!DOCTYPE html><html lang=en><title>Rota Planner</title><h1>Signed in</h1></html>")

    page.route(re.compile("^" + re.escape(callback)), at_the_callback)
    page.goto(uri)
    expect_path(page, "/sign-in")
    sign_in_form_fill(page, portal.user.email, portal.user.password)
    prove_it_is_you(page, app)
    expect(page.get_by_role("heading", level=1, name="Signed in", exact=True)).to_be_visible()
    assert len(arrived) == 1, arrived
    assert f"iss={requests.utils.quote(portal.base_url, safe='')}" in arrived[0], arrived[0]

    token = client.fetch_token(
        meta["token_endpoint"],
        authorization_response=arrived[0],
        state=state,
        code_verifier=verifier,
    )
    keys = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    options = {"iss": {"essential": True, "value": meta["issuer"]}}
    claims = jwt.decode(
        token["id_token"], keys, claims_cls=CodeIDToken, claims_options=options,
        claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
    )
    claims.validate()  # exp, iat, aud, azp, nonce, at_hash
    assert claims["email"] == portal.user.email
    assert "otp" in claims["amr"] and "mfa" in claims["amr"], claims["amr"]
    assert claims["acr"] == MFA

    # The same token for another sign-in's nonce is refused by authlib.
    other = jwt.decode(
        token["id_token"], keys, claims_cls=CodeIDToken, claims_options=options,
        claims_params={"nonce": "another sign-in", "client_id": client_id},
    )
    # authlib 1.9 raises joserfc's error here, older ones authlib.jose's.
    with pytest.raises(Exception, match="nonce") as refused:
        other.validate()
    assert "InvalidClaimError" in type(refused.value).__name__

    info = client.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"]
    assert info["organisation"]["code"] == "DEMO1"


def test_an_app_asking_for_a_phishing_resistant_sign_in_makes_the_portal_ask_for_the_security_key(
    portal: Portal, page: Page, webmail: Webmail
) -> None:
    key = SecurityKey(page)
    app = user_with_an_app(page, portal)
    # A security key as well.
    go_to_method_choice(page)
    page.get_by_role("radio", name="FIDO2 token", exact=True).check()
    page.get_by_role("button", name="Continue", exact=True).click()
    # Changing security info asks the person to prove it is them again.
    prove_it_is_you(page, app)
    name_field = page.get_by_role("textbox", name="Name for this key (optional)", exact=True)
    fido2 = page.get_by_role("radio", name="FIDO2 token", exact=True)
    expect(name_field.or_(fido2).first).to_be_visible()
    if fido2.count():
        fido2.check()
        page.get_by_role("button", name="Continue", exact=True).click()
    name_field.fill(KEY_NAME)
    page.get_by_role("button", name="Register security key", exact=True).click()
    expect_the_ceremony_to_lead_to(page, "Self-Service")
    assert len(key.credentials()) == 1
    sign_out(page)

    sign_in_at_the_webmail(page, portal, webmail, app)
    expect(page.locator("#acr")).to_have_text(MFA)
    assert "hwk" not in amr_shown(page)

    page.get_by_role("button", name="Sign in with a security key", exact=True).click()
    expect_path(page, VERIFY_PATH)
    assert page.url.startswith(portal.base_url), page.url
    expect(page.get_by_role("heading", level=1, name="Use your security key", exact=True)).to_be_visible()
    page.get_by_role("button", name="Use security key", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Inbox", exact=True)).to_be_visible(timeout=CEREMONY_MS)
    expect_the_inbox(page, webmail)
    expect(page.locator("#acr")).to_have_text(PHISHING_RESISTANT)
    assert "hwk" in amr_shown(page), amr_shown(page)
    expect(page.get_by_role("alert")).to_have_count(0)


def test_the_webmail_phishing_resistant_path_signs_in_with_a_passkey_alone(
    portal: Portal, page: Page, webmail: Webmail
) -> None:
    authenticator = Authenticator(page)
    add_a_passkey(page, portal, authenticator)
    sign_out(page)
    page.goto(webmail.base_url + "/")
    page.get_by_role("button", name="Sign in (phishing-resistant)", exact=True).click()
    expect_path(page, "/sign-in")
    assert page.url.startswith(portal.base_url), page.url
    # No password: the passkey alone, then straight back to the webmail.
    page.get_by_role("button", name="Sign in with a passkey", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Inbox", exact=True)).to_be_visible(timeout=CEREMONY_MS)
    expect_the_inbox(page, webmail)
    expect(page.locator("#acr")).to_have_text(PHISHING_RESISTANT)
    assert amr_shown(page) == ["hwk", "user", "mfa"], amr_shown(page)
    expect(page.get_by_role("alert")).to_have_count(0)
