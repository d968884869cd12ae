"""Self-enrolment of a FIDO2 security key (WebAuthn), and using it at sign-in.

The key is Chromium's virtual authenticator, driven through the DevTools
protocol (CDP): a USB CTAP2 key without resident keys that verifies its user.
The portal is browsed as http://localhost:PORT (the harness's base URL),
since browsers refuse WebAuthn on an IP-address origin.
"""

from __future__ import annotations

import re
from typing import Callable

import pytest
from playwright.sync_api import CDPSession, Page, expect

from harness import (
    Portal,
    axe,
    choose_method,
    expect_a_method_added,
    expect_my_profile,
    expect_path,
    expect_the_page_scripts_load,
    open_method_choice,
    path_of,
    sign_in,
    sign_out,
)

SETUP_PATH = "/profile/self-service/enrol/fido2-token"
VERIFY_PATH = "/sign-in/verify"
KEY_NAME = "Blue key"
# Long enough for the debug build's round trips and the key's signature;
# a missing key must fail well within the page's own WebAuthn timeout.
CEREMONY_MS = 15_000


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


class SecurityKey:
    """A virtual authenticator plugged into one page's browser tab."""

    def __init__(self, page: Page) -> None:
        self.cdp: CDPSession = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")
        self.id: str = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "usb",
                    "hasResidentKey": False,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                }
            },
        )["authenticatorId"]

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]

    def unplug(self) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.id})


def expect_the_ceremony_to_lead_to(page: Page, heading: str) -> None:
    """After a security-key button: wait for the page with `heading`, failing
    at once, with the page's words, if the page shows an error instead."""
    arrived = page.get_by_role("heading", level=1, name=heading, exact=True)
    error = page.get_by_role("main").get_by_role("alert")
    expect(arrived.or_(error).first).to_be_visible(timeout=CEREMONY_MS)
    assert error.count() == 0, f"the security key was not used; {path_of(page)} says: {error.first.inner_text()!r}"


def open_security_key_setup(page: Page, portal: Portal) -> None:
    """Sign in with the password, then Profile › My Profile › Self-Service ›
    Self-enroll for MFA › FIDO2 token › Continue."""
    open_method_choice(page, portal)
    choose_method(page, "FIDO2 token")
    expect_path(page, SETUP_PATH)
    expect(page.get_by_role("heading", level=1, name="Set up a FIDO2 token (security key)", exact=True)).to_be_visible()
    expect(page.get_by_role("textbox", name="Name for this key (optional)", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Register security key", exact=True)).to_be_visible()


def enrol(page: Page, portal: Portal, key: SecurityKey) -> None:
    """Sign in and register `key` as KEY_NAME."""
    open_security_key_setup(page, portal)
    expect_the_page_scripts_load(page)
    page.get_by_role("textbox", name="Name for this key (optional)", exact=True).fill(KEY_NAME)
    page.get_by_role("button", name="Register security key", exact=True).click()
    expect_the_ceremony_to_lead_to(page, "Self-Service")
    row = expect_a_method_added(page, "FIDO2 token")
    expect(row).to_contain_text(KEY_NAME)
    expect(row.get_by_text("Default", exact=True)).to_be_visible()

    credentials = key.credentials()
    assert len(credentials) == 1, credentials
    assert credentials[0]["rpId"] == "localhost", credentials
    assert credentials[0]["isResidentCredential"] is False, credentials


def reach_the_second_step(page: Page, portal: Portal) -> None:
    sign_in(page, portal)
    expect_the_second_step(page)


def expect_the_second_step(page: Page) -> None:
    expect_path(page, VERIFY_PATH)
    expect(page.get_by_role("heading", level=1, name="Use your security key", exact=True)).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(KEY_NAME)
    expect(page.get_by_role("button", name="Use security key", exact=True)).to_be_enabled()
    expect(page.get_by_role("link", name="Sign in another way", exact=True)).to_be_visible()
    # No code to type with a security key.
    expect(page.get_by_role("textbox", name="Verification code", exact=True)).to_have_count(0)


def enrol_and_reach_the_second_step(page: Page, portal: Portal) -> SecurityKey:
    key = SecurityKey(page)
    enrol(page, portal, key)
    sign_out(page)
    reach_the_second_step(page, portal)
    expect_the_page_scripts_load(page)
    return key


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_a_person_registers_a_security_key_and_signs_in_with_it(portal: Portal, page: Page) -> None:
    key = enrol_and_reach_the_second_step(page, portal)
    count = key.credentials()[0]["signCount"]
    page.get_by_role("button", name="Use security key", exact=True).click()
    expect_the_ceremony_to_lead_to(page, "My Profile")
    expect_my_profile(page)
    # It was the key that signed the sign-in: its signature counter moved on.
    assert key.credentials()[0]["signCount"] > count, key.credentials()


def test_without_the_registered_security_key_the_second_step_shows_an_error_and_stays(
    portal: Portal, page: Page
) -> None:
    key = enrol_and_reach_the_second_step(page, portal)
    # The registered key is unplugged and another one, which the portal has
    # never seen, is plugged in: Chromium refuses at once. (With no key at
    # all, a browser waits for one until the request's timeout, which the
    # portal sets to 5 minutes.)
    key.unplug()
    SecurityKey(page)
    page.get_by_role("button", name="Use security key", exact=True).click()
    error = page.get_by_role("main").get_by_role("alert")
    expect(error).to_contain_text(re.compile(r"security key", re.I), timeout=CEREMONY_MS)
    expect(error).to_be_visible()
    expect_the_second_step(page)
    # Still signed out: the second step can't be skipped.
    page.goto(portal.url("/profile"))
    expect_path(page, VERIFY_PATH)


# --------------------------------------------------------------------------
# Accessibility
# --------------------------------------------------------------------------


def setup(page: Page, portal: Portal) -> None:
    open_security_key_setup(page, portal)


def second_step(page: Page, portal: Portal) -> None:
    enrol_and_reach_the_second_step(page, portal)


PAGES: dict[str, Callable[[Page, Portal], None]] = {
    "security-key setup": setup,
    "second step by security key": second_step,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_each_security_key_page_has_no_accessibility_violations(name: str, portal: Portal, page: Page) -> None:
    PAGES[name](page, portal)
    axe(page, name)
