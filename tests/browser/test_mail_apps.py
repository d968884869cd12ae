"""Mail apps under MFA (issue 22), end to end: a mail app gets a token with the
device authorization grant (the person types the code at /device in
Chromium), then reads and sends mail through the reference gateway
(`nhsmal-mail-gateway`, ``$MAIL_GATEWAY_BIN``) with real clients: Python's
imaplib and smtplib, and curl. Passwords are refused; a revoked token is
refused once the gateway's introspection cache time has passed.
"""

from __future__ import annotations

import base64
import imaplib
import json
import os
import re
import shutil
import smtplib
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
from playwright.sync_api import Page, expect

from harness import REPO_ROOT, Portal, axe, expect_path, sign_in

MAIL_SCOPE = "openid email offline_access mail.imap mail.smtp"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# The gateway uses the portal's answer about a token for this long (its --cache-seconds).
CACHE_SECONDS = 2


def gateway_bin() -> Path:
    raw = os.environ.get("MAIL_GATEWAY_BIN", str(REPO_ROOT / "target" / "debug" / "nhsmal-mail-gateway"))
    path = Path(raw)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"nhsmal-mail-gateway not found at {path}: cargo build -p nhsmal-mail-gateway", pytrace=False)
    return path


def post_form(url: str, fields: dict[str, str], basic: tuple[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST")
    if basic:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def field(out: str, name: str) -> str:
    return re.search(rf"^{name}: (\S+)$", out, flags=re.M).group(1)


class Gateway:
    def __init__(self, process: subprocess.Popen, imap: tuple[str, int], smtp: tuple[str, int]) -> None:
        self.process, self.imap, self.smtp = process, imap, smtp


@pytest.fixture
def gateway(portal: Portal) -> Iterator[Gateway]:
    out = portal.cli_ok(
        "client", "add", "--name", "Mail gateway", "--redirect-uri", "https://mail.nhsmal.example/unused"
    ).stdout
    process = subprocess.Popen(
        [
            str(gateway_bin()),
            "--portal", portal.base_url,
            # Ids and secrets made before they were kept from starting with "-" may still:
            # pass them joined to their flags.
            "--client-id=" + field(out, "client_id"),
            "--client-secret=" + field(out, "client_secret"),
            "--imap-listen", "127.0.0.1:0",
            "--smtp-listen", "127.0.0.1:0",
            "--cache-seconds", str(CACHE_SECONDS),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        addresses, said = {}, []
        while len(addresses) < 2:
            line = process.stdout.readline()
            assert line, f"the gateway stopped before listening (exit {process.poll()}): {''.join(said)}"
            said.append(line)
            m = re.match(r"(IMAP|SMTP) listening on ([\d.]+):(\d+)", line)
            if m:
                addresses[m.group(1)] = (m.group(2), int(m.group(3)))
        yield Gateway(process, addresses["IMAP"], addresses["SMTP"])
    finally:
        process.kill()
        process.wait(timeout=10)


def device_sign_in(portal: Portal, page: Page, client_id: str, scope: str = MAIL_SCOPE) -> dict:
    """The mail app asks for a code; the person, signed in in Chromium, opens
    the link the app shows, checks the code and allows it; the app polls
    until it has its tokens."""
    status, started = post_form(
        portal.url("/oauth2/device_authorization"), {"client_id": client_id, "scope": scope}
    )
    assert status == 200, started
    sign_in(page, portal)
    page.goto(started["verification_uri_complete"])
    expect(page.get_by_role("heading", level=1, name="Connect an app or device")).to_be_visible()
    axe(page, "the device page")
    expect(page.get_by_label("Code")).to_have_value(started["user_code"])
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Allow Thunderbird to use your NHSmal account?")).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(started["user_code"])
    axe(page, "the device confirmation")
    page.get_by_role("button", name="Allow access", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Thunderbird is connected")).to_be_visible()
    axe(page, "the device done page")

    fields = {"grant_type": DEVICE_GRANT, "device_code": started["device_code"], "client_id": client_id}
    deadline = time.monotonic() + 30
    while True:
        time.sleep(started["interval"])
        status, tokens = post_form(portal.url("/oauth2/token"), fields)
        if status == 200 or time.monotonic() > deadline:
            break
        assert tokens["error"] == "authorization_pending", tokens
    assert status == 200, tokens
    return tokens


def xoauth2(email: str, token: str) -> str:
    return f"user={email}\x01auth=Bearer {token}\x01\x01"


def test_a_mail_app_reads_and_sends_mail_with_a_token_and_a_revoked_token_stops_working(
    portal: Portal, page: Page, gateway: Gateway
) -> None:
    client_id = field(portal.cli_ok("client", "add", "--native", "--name", "Thunderbird").stdout, "client_id")
    tokens = device_sign_in(portal, page, client_id)
    email, token = portal.user.email, tokens["access_token"]

    # IMAP: a password is refused, the token reads the inbox.
    imap = imaplib.IMAP4(*gateway.imap)
    assert "AUTH=XOAUTH2" in imap.capabilities and "LOGINDISABLED" in imap.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="Passwords are not accepted"):
        imap.login(email, portal.user.password)
    imap.authenticate("XOAUTH2", lambda _: xoauth2(email, token).encode())
    status, data = imap.select("INBOX")
    assert status == "OK" and data == [b"1"], data
    status, fetched = imap.fetch("1", "(BODY[])")
    assert b"Welcome to NHSmal" in fetched[0][1]
    imap.logout()

    # SMTP: AUTH PLAIN and LOGIN are refused; XOAUTH2 sends, as oneself only.
    smtp = smtplib.SMTP(*gateway.smtp)
    smtp.ehlo()
    assert "XOAUTH2" in smtp.esmtp_features["auth"] and "PLAIN" not in smtp.esmtp_features["auth"]
    code, message = smtp.docmd("AUTH", "PLAIN " + base64.b64encode(f"\0{email}\0{portal.user.password}".encode()).decode())
    assert code == 504 and b"Passwords are not accepted" in message
    smtp.auth("XOAUTH2", lambda challenge=None: xoauth2(email, token), initial_response_ok=True)
    with pytest.raises(smtplib.SMTPSenderRefused):
        smtp.sendmail("someone.else@demo1.nhs.uk", [email], "Subject: spoof\r\n\r\nno")
    smtp.sendmail(email, [email], f"From: {email}\r\nTo: {email}\r\nSubject: Note to self\r\n\r\nSent with OAuth.\r\n")
    smtp.quit()

    # OAUTHBEARER (RFC 7628) reads the message just sent.
    imap = imaplib.IMAP4(*gateway.imap)
    imap.authenticate("OAUTHBEARER", lambda _: f"n,a={email},\x01auth=Bearer {token}\x01\x01".encode())
    status, data = imap.select("INBOX")
    assert data == [b"2"], data
    status, fetched = imap.fetch("2", "(BODY[])")
    assert b"Subject: Note to self" in fetched[0][1]
    imap.logout()

    # curl, a client of its own, signs in with the bearer token too.
    assert shutil.which("curl"), "curl is not installed (scripts/test installs it)"
    listed = subprocess.run(
        ["curl", "-sS", "--max-time", "10", "--url", f"imap://{gateway.imap[0]}:{gateway.imap[1]}/",
         "--user", f"{email}:", "--oauth2-bearer", token, "--login-options", "AUTH=XOAUTH2"],
        capture_output=True, text=True, timeout=20,
    )
    assert listed.returncode == 0 and "INBOX" in listed.stdout, listed.stderr

    # Revoked at the portal, the token is refused once the cache time has passed.
    status, _ = post_form(portal.url("/oauth2/revoke"), {"token": tokens["refresh_token"], "client_id": client_id})
    assert status == 200
    time.sleep(CACHE_SECONDS + 0.5)
    imap = imaplib.IMAP4(*gateway.imap)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED|not valid"):
        imap.authenticate("XOAUTH2", lambda _: xoauth2(email, token).encode())
    smtp = smtplib.SMTP(*gateway.smtp)
    smtp.ehlo()
    with pytest.raises(smtplib.SMTPAuthenticationError):
        smtp.auth("XOAUTH2", lambda challenge=None: xoauth2(email, token), initial_response_ok=True)
    smtp.close()


def test_a_token_of_another_person_or_without_the_mail_scope_is_refused(
    portal: Portal, page: Page, new_page, gateway: Gateway
) -> None:
    client_id = field(portal.cli_ok("client", "add", "--native", "--name", "Thunderbird").stdout, "client_id")
    tokens = device_sign_in(portal, page, client_id)
    imap = imaplib.IMAP4(*gateway.imap)
    with pytest.raises(imaplib.IMAP4.error):
        imap.authenticate("XOAUTH2", lambda _: xoauth2("someone.else@demo1.nhs.uk", tokens["access_token"]).encode())
    imap = imaplib.IMAP4(*gateway.imap)
    with pytest.raises(imaplib.IMAP4.error):
        imap.authenticate("XOAUTH2", lambda _: xoauth2(portal.user.email, "not-a-token").encode())
    # A token the person gave for their address only, not for mail: refused by IMAP and SMTP.
    narrow = device_sign_in(portal, new_page(), client_id, scope="openid email")
    imap = imaplib.IMAP4(*gateway.imap)
    with pytest.raises(imaplib.IMAP4.error, match="not valid for mail"):
        imap.authenticate("XOAUTH2", lambda _: xoauth2(portal.user.email, narrow["access_token"]).encode())
    smtp = smtplib.SMTP(*gateway.smtp)
    smtp.ehlo()
    with pytest.raises(smtplib.SMTPAuthenticationError):
        smtp.auth("XOAUTH2", lambda challenge=None: xoauth2(portal.user.email, narrow["access_token"]), initial_response_ok=True)
    smtp.close()


def test_where_youre_signed_in_lists_browsers_and_apps_and_ends_them(
    portal: Portal, new_page, page: Page
) -> None:
    client_id = field(portal.cli_ok("client", "add", "--native", "--name", "Thunderbird").stdout, "client_id")
    device_sign_in(portal, page, client_id)
    other = new_page()
    sign_in(other, portal)

    page.goto(portal.url("/profile"))
    page.get_by_role("link", name="Where you're signed in", exact=True).click()
    expect_path(page, "/profile/signed-in")
    expect(page.get_by_role("heading", level=1, name="Where you're signed in")).to_be_visible()
    sessions = page.locator("#browser-sessions tbody tr")
    expect(sessions).to_have_count(2)
    expect(page.locator("#browser-sessions")).to_contain_text("This device")
    expect(page.locator("#app-access")).to_contain_text("Thunderbird")
    axe(page, "where you're signed in")

    # The other browser: signed out from here.
    page.locator("#browser-sessions").get_by_role("button", name=re.compile("^Sign out")).click()
    expect(page.locator("#signed-in-notice")).to_contain_text("That browser has been signed out.")
    expect(sessions).to_have_count(1)
    other.goto(portal.url("/profile"))
    expect_path(other, "/sign-in")

    page.get_by_role("button", name=re.compile("^Remove access")).click()
    expect(page.locator("#signed-in-notice")).to_contain_text("The app's access has been removed")
    expect(page.locator("#no-apps")).to_be_visible()
    axe(page, "where you're signed in, after removing")

    page.get_by_role("button", name="Sign out everywhere", exact=True).click()
    expect_path(page, "/sign-in")
    expect(page.get_by_role("main")).to_contain_text("You have been signed out everywhere.")


def test_an_administrator_sees_where_a_person_is_signed_in_and_signs_them_out_everywhere(
    portal: Portal, new_page
) -> None:
    from journeys import admin_with_an_app, open_user

    ann = portal.user
    client_id = field(portal.cli_ok("client", "add", "--native", "--name", "Thunderbird").stdout, "client_id")
    ann_page = new_page()
    device_sign_in(portal, ann_page, client_id)

    admin_page = new_page()
    admin_with_an_app(admin_page, portal, "lou.admin@demo1.nhs.uk", "Lou Admin")
    open_user(admin_page, portal, "Ann", ann.name)
    admin_page.get_by_role("link", name=f"Where {ann.name} is signed in", exact=True).click()
    expect(admin_page.get_by_role("heading", level=1, name=f"Where {ann.name} is signed in")).to_be_visible()
    expect(admin_page.locator("#app-access")).to_contain_text("Thunderbird")
    expect(admin_page.locator("#browser-sessions tbody tr")).to_have_count(1)
    axe(admin_page, "an administrator's view of where a person is signed in")
    admin_page.get_by_role("button", name="Sign out everywhere", exact=True).click()
    expect(admin_page.locator("#signed-in-notice")).to_contain_text("They have been signed out everywhere")
    expect(admin_page.locator("#no-apps")).to_be_visible()
    expect(admin_page.locator("#no-sessions")).to_be_visible()
    axe(admin_page, "after signing a person out everywhere")
    ann_page.goto(portal.url("/profile"))
    expect_path(ann_page, "/sign-in")
