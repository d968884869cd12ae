"""Keyboard-only journeys (WCAG 2.1.1, 2.4.3): signing in, setting up an
authenticator app, a text message, a phone call and a security key, resetting
a password, and an administrator's MFA reset and temporary access pass, with
Tab, the arrow keys, Enter and typing alone.
The mouse is never used; `tab_to` presses Tab until the element has the focus,
so a journey fails if anything cannot be reached in order. Each journey also
runs at 320 px wide, the width of a small phone (1.4.10)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from harness import Portal, expect_path, next_message
from journeys import VERIFY_PATH, AuthenticatorApp, admin_with_an_app, user_with_an_app

MAX_TABS = 80
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "320 px": {"width": 320, "height": 720}}
NEW_PASSWORD = "correct horse battery staple 9"


def tab_to(page: Page, target: Locator) -> None:
    """Press Tab until `target` has the focus."""
    expect(target).to_have_count(1)
    for _ in range(MAX_TABS):
        if target.evaluate("el => el === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{target} cannot be reached with the Tab key")


def press(page: Page, target: Locator, key: str = "Enter") -> None:
    tab_to(page, target)
    page.keyboard.press(key)


def type_into(page: Page, target: Locator, text: str) -> None:
    tab_to(page, target)
    page.keyboard.type(text)


def choose_radio(page: Page, group_first: Locator, wanted: Locator) -> None:
    """A radio group is one Tab stop: reach it, then arrow keys to `wanted`."""
    tab_to(page, group_first)
    for _ in range(10):
        if wanted.is_checked():
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"{wanted} cannot be chosen with the arrow keys")


def sign_in_by_keyboard(page: Page, portal: Portal, password: str | None = None) -> None:
    page.goto(portal.url("/sign-in"))
    type_into(page, page.get_by_role("textbox", name="Email address", exact=True), portal.user.email)
    type_into(page, page.get_by_label("Password", exact=True), password or portal.user.password)
    page.keyboard.press("Enter")


@pytest.fixture(params=list(VIEWPORTS))
def keyboard_page(request, new_page) -> Page:
    return new_page(viewport=VIEWPORTS[request.param])


def test_signing_in_and_setting_up_an_app_by_keyboard(portal: Portal, keyboard_page: Page) -> None:
    page = keyboard_page
    sign_in_by_keyboard(page, portal)
    expect_path(page, "/profile")
    press(page, page.get_by_role("main").get_by_role("link", name="Self-Service", exact=True))
    press(page, page.get_by_role("button", name="Self-enroll for MFA", exact=True))
    radios = page.get_by_role("radio")
    choose_radio(page, radios.first, page.get_by_role("radio", name="Authenticator app", exact=True))
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1, name="Set up an authenticator app", exact=True)).to_be_visible()
    app = AuthenticatorApp(page.locator("#totp-secret").inner_text().strip().replace(" ", ""))
    type_into(page, page.get_by_role("textbox", name="Verification code", exact=True), app.code())
    type_into(page, page.get_by_role("textbox", name="Name for this app (optional)", exact=True), "Work phone")
    page.keyboard.press("Enter")
    expect_path(page, "/profile/self-service")
    expect(page.get_by_role("table", name="Your sign-in methods")).to_contain_text("Work phone")

    # Sign out through the Profile menu, then in again with the app's code.
    press(page, page.get_by_role("banner").get_by_role("button", name="Profile", exact=True))
    press(page, page.get_by_role("button", name="Sign out", exact=True))
    expect_path(page, "/sign-in")
    sign_in_by_keyboard(page, portal)
    expect_path(page, VERIFY_PATH)
    type_into(page, page.get_by_role("textbox", name="Verification code", exact=True), app.code())
    page.keyboard.press("Enter")
    expect_path(page, "/profile")


def test_setting_up_text_messages_by_keyboard(portal: Portal, keyboard_page: Page) -> None:
    page = keyboard_page
    sign_in_by_keyboard(page, portal)
    expect_path(page, "/profile")
    page.goto(portal.url("/profile/self-service/enrol"))
    choose_radio(page, page.get_by_role("radio").first, page.get_by_role("radio", name="Text message", exact=True))
    page.keyboard.press("Enter")
    count = len(portal.outbox())
    type_into(page, page.get_by_role("textbox", name="Mobile phone number", exact=True), "07700 900123")
    page.keyboard.press("Enter")
    code = next_message(portal, count, "sms")["code"]
    type_into(page, page.get_by_role("textbox", name="Verification code", exact=True), code)
    page.keyboard.press("Enter")
    expect_path(page, "/profile/self-service")
    expect(page.get_by_role("table", name="Your sign-in methods")).to_contain_text("Text message")


def test_setting_up_phone_calls_by_keyboard(portal: Portal, keyboard_page: Page) -> None:
    import urllib.parse
    import urllib.request

    page = keyboard_page
    sign_in_by_keyboard(page, portal)
    expect_path(page, "/profile")
    page.goto(portal.url("/profile/self-service/enrol"))
    choose_radio(page, page.get_by_role("radio").first, page.get_by_role("radio", name="Phone call", exact=True))
    page.keyboard.press("Enter")
    count = len(portal.outbox())
    type_into(page, page.get_by_role("textbox", name="Phone number", exact=True), "07700 900123")
    page.keyboard.press("Enter")
    keypad = next_message(portal, count, "voice")["keypad_url"]
    # The person presses # on the call, as the telephony provider reports it.
    request = urllib.request.Request(keypad, data=urllib.parse.urlencode({"Digits": "#"}).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    # The page moves on by itself; without waiting, "Continue" is one Tab stop away.
    continue_button = page.get_by_role("button", name="Continue", exact=True)
    if continue_button.count():
        press(page, continue_button)
    expect_path(page, "/profile/self-service", timeout=15_000)
    expect(page.get_by_role("table", name="Your sign-in methods")).to_contain_text("Phone call")


def test_setting_up_a_security_key_by_keyboard(portal: Portal, keyboard_page: Page) -> None:
    page = keyboard_page
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": False,
        "hasUserVerification": True, "isUserVerified": True}})
    sign_in_by_keyboard(page, portal)
    expect_path(page, "/profile")
    page.goto(portal.url("/profile/self-service/enrol"))
    choose_radio(page, page.get_by_role("radio").first, page.get_by_role("radio", name="FIDO2 token", exact=True))
    page.keyboard.press("Enter")
    type_into(page, page.get_by_role("textbox", name="Name for this key (optional)", exact=True), "Blue key")
    press(page, page.get_by_role("button", name="Register security key", exact=True))
    expect_path(page, "/profile/self-service", timeout=15_000)
    expect(page.get_by_role("table", name="Your sign-in methods")).to_contain_text("Blue key")


def test_resetting_a_password_by_keyboard(portal: Portal, keyboard_page: Page, new_page) -> None:
    setup = new_page()
    app = user_with_an_app(setup, portal)
    page = keyboard_page
    page.goto(portal.url("/sign-in"))
    press(page, page.get_by_role("link", name="Forgotten your password?", exact=True))
    type_into(page, page.get_by_role("textbox", name="Email address", exact=True), portal.user.email)
    page.keyboard.press("Enter")
    choose_radio(page, page.get_by_role("radio").first, page.get_by_role("radio", name="Authenticator app", exact=True))
    page.keyboard.press("Enter")
    expect_path(page, VERIFY_PATH)
    type_into(page, page.get_by_role("textbox", name="Verification code", exact=True), app.code())
    page.keyboard.press("Enter")
    type_into(page, page.get_by_label("New password", exact=True), NEW_PASSWORD)
    type_into(page, page.get_by_label("Confirm new password", exact=True), NEW_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_contain_text("Your password has been reset")
    sign_in_by_keyboard(page, portal, NEW_PASSWORD)
    expect_path(page, VERIFY_PATH)


def test_an_administrator_resets_someones_mfa_by_keyboard(portal: Portal, keyboard_page: Page, new_page) -> None:
    setup = new_page()
    user_with_an_app(setup, portal, "Their phone")
    admin_page = keyboard_page
    # Enrolling the administrator's own app is the journey above; this one starts in the admin area.
    admin_with_an_app(admin_page, portal, "la.example@demo1.nhs.uk", "Lou Admin")
    page = admin_page
    press(page, page.get_by_role("main").get_by_role("link", name="Find users", exact=True))
    type_into(page, page.get_by_role("searchbox", name="Name or email", exact=True), portal.user.email)
    page.keyboard.press("Enter")
    press(page, page.get_by_role("table", name="Accounts").get_by_role("link", name=portal.user.name, exact=True))
    type_into(page, page.get_by_role("textbox", name="Reason", exact=True), "Phone lost, checked by a call")
    press(page, page.get_by_role("button", name="Reset MFA", exact=True))
    press(page, page.get_by_role("button", name="Yes, reset their MFA", exact=True))
    expect(page.get_by_role("main")).to_contain_text("Their multi-factor authentication was reset")
    expect(page.locator("#no-methods")).to_be_visible()
    assert re.search(r"/admin/users/[^/?]+", page.url)
    # Then a temporary access pass, so that they can set up a new method.
    press(page, page.get_by_role("button", name="Issue temporary access pass", exact=True))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Temporary access pass for")
    expect(page.locator("#temporary-access-pass")).not_to_be_empty()
