"""Passkeys (issue 23): created from Self-Service, signing in without a
password (the button and autofill), the policy refusing synced passkeys, and a
passkey whose backup flags change being refused as a possible copy.

The passkey is Chromium's virtual authenticator through the DevTools protocol
(CDP WebAuthn): a platform authenticator with resident keys and user
verification, device-bound or synced (backup eligible and backed up).
"""

from __future__ import annotations

import json

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
    go_to_method_choice,
    open_method_choice,
    path_of,
    sign_out,
)

SETUP_PATH = "/profile/self-service/enrol/passkey"
NAME = "Work laptop"
CEREMONY_MS = 15_000


class Authenticator:
    """A virtual platform authenticator that keeps passkeys in one tab's browser."""

    def __init__(self, page: Page, *, synced: bool = False) -> None:
        page.add_init_script(AUTOFILL_SWITCH)
        self.cdp: CDPSession = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")
        self.id: str = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "ctap2Version": "ctap2_1",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                    "defaultBackupEligibility": synced,
                    "defaultBackupState": synced,
                }
            },
        )["authenticatorId"]

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]

    def set_backup_flags(self, eligible: bool, state: bool) -> None:
        credential = self.credentials()[0]["credentialId"]
        self.cdp.send(
            "WebAuthn.setCredentialProperties",
            {
                "authenticatorId": self.id,
                "credentialId": credential,
                "backupEligibility": eligible,
                "backupState": state,
            },
        )


def autofill(page: Page, on: bool) -> None:
    """Switch passkey autofill (conditional mediation) on or off for the next
    pages, as in a browser with or without it. Chromium's virtual
    authenticator answers an autofill request at once, as if the person chose
    the passkey from the suggestions, so it is off wherever a test signs out or
    uses the button."""
    page.evaluate(f"localStorage.setItem('autofill', '{'on' if on else 'off'}')")


AUTOFILL_SWITCH = (
    "if (window.PublicKeyCredential && localStorage.getItem('autofill') === 'off') {"
    " PublicKeyCredential.isConditionalMediationAvailable = async () => false }"
)


def page_error(page: Page):
    return page.get_by_role("main").get_by_role("alert")


def expect_to_arrive(page: Page, heading: str) -> None:
    arrived = page.get_by_role("heading", level=1, name=heading, exact=True)
    error = page_error(page)
    expect(arrived.or_(error).first).to_be_visible(timeout=CEREMONY_MS)
    assert error.count() == 0, f"{path_of(page)} says: {error.first.inner_text()!r}"


def open_passkey_setup(page: Page, portal: Portal) -> None:
    """Sign in with the password, then Self-Service › Self-enroll for MFA ›
    Passkey › Continue."""
    open_method_choice(page, portal)
    choose_method(page, "Passkey")
    expect_path(page, SETUP_PATH)
    expect(page.get_by_role("heading", level=1, name="Create a passkey", exact=True)).to_be_visible()
    expect_the_page_scripts_load(page)


def create_passkey(page: Page) -> None:
    page.get_by_role("textbox", name="Name for this passkey (optional)", exact=True).fill(NAME)
    page.get_by_role("button", name="Create a passkey", exact=True).click()


def add_a_passkey(page: Page, portal: Portal, authenticator: Authenticator) -> None:
    open_passkey_setup(page, portal)
    axe(page, "the passkey set-up page")
    create_passkey(page)
    expect_to_arrive(page, "Self-Service")
    autofill(page, on=False)
    credentials = authenticator.credentials()
    assert len(credentials) == 1, credentials
    assert credentials[0]["isResidentCredential"] is True, "a passkey is discoverable"
    assert credentials[0]["rpId"] == "localhost"


def test_a_person_adds_a_passkey_and_signs_in_with_it_without_a_password(portal: Portal, page: Page) -> None:
    authenticator = Authenticator(page)
    add_a_passkey(page, portal, authenticator)
    row = expect_a_method_added(page, "Passkey")
    expect(row).to_contain_text(NAME)
    expect(row).to_contain_text("Device-bound")
    axe(page, "Self-Service with a passkey")

    sign_out(page)
    page.goto(portal.url("/sign-in"))
    expect_the_page_scripts_load(page)
    axe(page, "the sign-in page with the passkey button")
    # Nothing typed: no email address, no password.
    page.get_by_role("button", name="Sign in with a passkey", exact=True).click()
    expect_to_arrive(page, "My Profile")
    expect_my_profile(page)


def test_passkey_autofill_offers_the_passkey_in_the_email_field(portal: Portal, page: Page) -> None:
    authenticator = Authenticator(page)
    add_a_passkey(page, portal, authenticator)
    sign_out(page)
    # The email field asks the browser for passkeys in its suggestions.
    email = page.get_by_role("textbox", name="Email address", exact=True)
    expect(email).to_have_attribute("autocomplete", "username webauthn")
    # With autofill, the page starts a conditional request on load; Chromium's virtual
    # authenticator (user present automatically) answers it as a person choosing the passkey
    # from the suggestions would: signed in, nothing typed, no button pressed.
    autofill(page, on=True)
    # The page may move on before it has finished loading: wait only for the navigation.
    page.goto(portal.url("/sign-in"), wait_until="commit")
    expect_to_arrive(page, "My Profile")


@pytest.mark.parametrize(
    "policy,role",
    [(("--synced-passkeys", "no"), "user"), (("--admin-device-bound", "yes"), "local-admin")],
    ids=["synced refused for everyone", "administrators held to device-bound"],
)
def test_a_synced_passkey_is_refused_where_the_policy_accepts_only_device_bound(
    portal: Portal, page: Page, policy: tuple[str, str], role: str
) -> None:
    portal.cli_ok("policy", "set", *policy)
    if role != "user":
        portal.user = portal.add_user("new.admin@demo1.nhs.uk", "New Admin", role=role)
    authenticator = Authenticator(page, synced=True)
    open_passkey_setup(page, portal)
    create_passkey(page)
    error = page_error(page)
    expect(error).to_contain_text("only passkeys that stay on one device", timeout=CEREMONY_MS)
    expect_path(page, SETUP_PATH)
    assert len(authenticator.credentials()) == 1, "the browser made one; the portal kept none"
    page.goto(portal.url("/profile/self-service"))
    expect(page.get_by_role("main")).to_contain_text("You have not set up any")

    # Accepted again, it is listed as synced.
    portal.cli_ok("policy", "set", policy[0], "yes" if policy[1] == "no" else "no")
    go_to_method_choice(page)
    choose_method(page, "Passkey")
    expect_path(page, SETUP_PATH)
    create_passkey(page)
    expect_to_arrive(page, "Self-Service")
    expect(expect_a_method_added(page, "Passkey")).to_contain_text("Synced")


def test_a_passkey_whose_backup_flags_change_is_refused_and_the_person_told(portal: Portal, page: Page) -> None:
    authenticator = Authenticator(page)
    add_a_passkey(page, portal, authenticator)
    sign_out(page)
    # The device-bound passkey now says it is backed up: it may have been copied.
    authenticator.set_backup_flags(eligible=True, state=True)
    page.goto(portal.url("/sign-in"))
    expect_the_page_scripts_load(page)
    page.get_by_role("button", name="Sign in with a passkey", exact=True).click()
    expect(page_error(page)).to_contain_text("was not accepted", timeout=CEREMONY_MS)
    expect_path(page, "/sign-in")
    subjects = [m.get("subject", "") for m in portal.outbox()]
    assert any("may have been copied" in s for s in subjects), json.dumps(subjects)
