"""The NHSmal Authenticator end to end: the real companion binary
(`nhsmal-authenticator`, ``$AUTHENTICATOR_BIN``) against the real server, the
browser in Chromium. Pairing from the set-up page's QR code, then sign-ins
approved (or not) from the app's plain commands and from its interactive
screen, run in a terminal under tmux.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from harness import (
    REPO_ROOT,
    Portal,
    axe,
    expect_my_profile,
    expect_path,
    open_method_choice,
    sign_in,
    sign_out,
)
from journeys import NEW_PASSWORD_PATH, expect_the_password_reset, save_new_password, start_password_reset
from test_authenticator_app import decode_qr

PAIRING_PATH = "/profile/self-service/enrol/authenticator-app/notifications"
VERIFY_PATH = "/sign-in/verify"
PASSPHRASE = "a long passphrase for tests"
# The pages poll every second; allow a few rounds.
MOVES_ON_BY_ITSELF_MS = 10_000


def authenticator_bin() -> Path:
    raw = os.environ.get("AUTHENTICATOR_BIN", str(REPO_ROOT / "target" / "debug" / "nhsmal-authenticator"))
    path = Path(raw)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"nhsmal-authenticator not found at {path}: cargo build -p nhsmal-authenticator", pytrace=False)
    return path


class App:
    """The companion app on a person's computer: its own encrypted store."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("NHSMAL_")},
            "NHSMAL_AUTHENTICATOR_STORE": str(store),
            "NHSMAL_AUTHENTICATOR_PASSPHRASE": PASSPHRASE,
        }

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(authenticator_bin()), *args], env=self.env, capture_output=True, text=True, timeout=60
        )
        if check:
            assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def only_request(self) -> str:
        """The id of the one request waiting (as `requests` lists it)."""
        deadline = time.monotonic() + 10
        while True:
            out = self.run("requests").stdout
            ids = re.findall(r"^([0-9a-f-]{36})$", out, flags=re.M)
            if ids or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(ids) == 1, out
        return ids[0]


def number_on(page: Page, css: str) -> str:
    text = page.locator(css).inner_text()
    digits = re.sub(r"\D", "", text)
    assert len(digits) == 2, text
    return digits


def pair_from_the_page(page: Page, portal: Portal, app: App) -> None:
    """Self-Service › Self-enroll for MFA › Authenticator app › Receive
    notifications; the app pairs from the QR code and is given the number."""
    open_method_choice(page, portal)
    page.get_by_role("radio", name="Authenticator app", exact=True).check()
    page.get_by_role("button", name="Continue", exact=True).click()
    page.get_by_role("link", name="Receive notifications", exact=True).click()
    expect_path(page, PAIRING_PATH)
    expect(page.get_by_role("heading", level=1, name="Set up the NHSmal Authenticator")).to_be_visible()
    axe(page, "pairing: the activation code")
    link = decode_qr(page.get_by_role("img", name=re.compile("QR code")))
    code = page.locator("#activation-code").inner_text().strip()
    assert link == f"{portal.base_url}/pair#{code}", link
    pairing = subprocess.Popen(
        [str(authenticator_bin()), "pair", link, "--name", "Test phone"],
        env=app.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The page shows the number by itself once the app has used the code.
        expect(page.locator("#pairing-number")).to_be_visible(timeout=MOVES_ON_BY_ITSELF_MS)
        axe(page, "pairing: the number")
        out, err = pairing.communicate(number_on(page, "#pairing-number") + "\n", timeout=30)
    finally:
        if pairing.poll() is None:
            pairing.kill()
    assert pairing.returncode == 0, f"{out}\n{err}"
    assert "now set up for NHSmal" in out, out
    expect_path(page, "/profile/self-service", timeout=MOVES_ON_BY_ITSELF_MS)
    expect(page.get_by_text("Test phone").first).to_be_visible()


def at_the_push_step(page: Page, portal: Portal) -> str:
    sign_in(page, portal)
    expect_path(page, VERIFY_PATH)
    expect(page.get_by_role("heading", level=1, name="Approve the request in your NHSmal Authenticator")).to_be_visible()
    return number_on(page, "#push-number")


def test_pairing_then_approving_a_sign_in_with_the_number_from_the_browser(portal: Portal, page: Page, tmp_path: Path) -> None:
    app = App(tmp_path / "app" / "accounts.json")
    pair_from_the_page(page, portal, app)
    # The app also keeps the account's codes, for no signal.
    assert re.search(r"NHSmal:ann\.example@demo1\.nhs\.uk\s+\d{6}", app.run("code").stdout)
    assert "Notifications: ann.example@demo1.nhs.uk" in app.run("list").stdout
    # The store is encrypted: neither the device token nor the key is in clear.
    assert "token" not in app.store.read_text()

    sign_out(page)
    number = at_the_push_step(page, portal)
    axe(page, "the push step")
    request = app.only_request()
    listed = app.run("requests").stdout
    assert "Signing in" in listed and "NHSmal Portal" in listed and number not in listed.replace(request, "")
    out = app.run("approve", request, "--number", number).stdout
    assert "Approved" in out, out
    expect_my_profile(page)


def test_a_wrong_number_or_a_report_in_the_app_refuses_the_sign_in(portal: Portal, page: Page, tmp_path: Path) -> None:
    app = App(tmp_path / "app" / "accounts.json")
    pair_from_the_page(page, portal, app)
    sign_out(page)
    number = at_the_push_step(page, portal)
    wrong = "10" if number != "10" else "11"
    out = app.run("approve", app.only_request(), "--number", wrong).stdout
    assert "not the number" in out, out
    expect(page.get_by_role("heading", level=1, name="Sign-in refused")).to_be_visible(timeout=MOVES_ON_BY_ITSELF_MS)

    at_the_push_step(page, portal)
    out = app.run("deny", app.only_request(), "--report").stdout
    assert "reported" in out, out
    expect(page.get_by_role("heading", level=1, name="Sign-in refused")).to_be_visible(timeout=MOVES_ON_BY_ITSELF_MS)
    # The person is emailed; answering again is too late.
    assert any("blocked a sign-in" in (m.get("subject") or "") for m in portal.outbox())


def test_the_no_signal_code_from_the_app_signs_in(portal: Portal, page: Page, tmp_path: Path) -> None:
    app = App(tmp_path / "app" / "accounts.json")
    pair_from_the_page(page, portal, app)
    sign_out(page)
    at_the_push_step(page, portal)
    page.get_by_role("link", name="No signal? Enter a code from the app instead").click()
    expect(page.get_by_role("heading", level=1, name="Enter the code from your NHSmal Authenticator")).to_be_visible()
    axe(page, "the push method's code")
    code = re.search(r"NHSmal:\S+\s+(\d{6})", app.run("code").stdout).group(1)
    page.get_by_label("Verification code").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect_my_profile(page)


def test_a_forgotten_password_is_reset_by_approving_in_the_app(portal: Portal, page: Page, tmp_path: Path) -> None:
    app = App(tmp_path / "app" / "accounts.json")
    pair_from_the_page(page, portal, app)
    sign_out(page)
    start_password_reset(page, portal, portal.user.email, "NHSmal Authenticator")
    expect(page.get_by_role("heading", level=1, name="Approve the request in your NHSmal Authenticator")).to_be_visible()
    axe(page, "the push step of a reset")
    number = number_on(page, "#push-number")
    request = app.only_request()
    # The app says what is being approved.
    assert "Resetting your password" in app.run("requests").stdout
    out = app.run("approve", request, "--number", number).stdout
    assert "Approved" in out, out
    expect_path(page, NEW_PASSWORD_PATH, MOVES_ON_BY_ITSELF_MS)
    save_new_password(page, "a fresh long passphrase 58")
    expect_the_password_reset(page)


@pytest.mark.skipif(shutil.which("tmux") is None and not os.environ.get("CI"), reason="tmux is not installed (scripts/test installs it)")
def test_the_interactive_screen_shows_the_request_and_takes_the_number(portal: Portal, page: Page, tmp_path: Path) -> None:
    app = App(tmp_path / "app" / "accounts.json")
    pair_from_the_page(page, portal, app)
    sign_out(page)
    session = f"nhsmal-{os.getpid()}-{int(time.time())}"
    env_args = [f"{k}={v}" for k, v in app.env.items() if k.startswith("NHSMAL_AUTHENTICATOR_")]
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "40",
         "env", *env_args, str(authenticator_bin()), "wait"],
        check=True,
    )

    def screen() -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout

    def wait_for(text: str) -> str:
        deadline = time.monotonic() + 15
        while text not in (shown := screen()):
            assert time.monotonic() < deadline, f"{text!r} not on the screen:\n{shown}"
            time.sleep(0.2)
        return shown

    try:
        wait_for("waiting for sign-in requests")
        number = at_the_push_step(page, portal)
        shown = wait_for("Type the number shown on the sign-in page")
        assert "Signing in (notified) to NHSmal Portal" in shown, shown
        assert "address 127.0.0.1" in shown, shown
        subprocess.run(["tmux", "send-keys", "-t", session, number, "Enter"], check=True)
        wait_for("Approved")
        expect_my_profile(page)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)
