"""Resetting a forgotten password: "Forgotten your password?" on the sign-in
page, the email address, the kind of method (the same choice for every
address), the second step with a method the person registered (two different
kinds for administrators), a new password, then signing in with it.

Each kind of method is proved as in its own tests: an authenticator app with
pyotp, a text message with the code from the outbox, a call by POSTing the
keypress to the call's keypad URL, a FIDO2 token with Chromium's virtual
authenticator.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable

from playwright.sync_api import Page, expect

from harness import (
    PASSWORD,
    Portal,
    choose_method,
    error_summary,
    expect_a_method_added,
    expect_my_profile,
    expect_path,
    expect_the_page_scripts_load,
    go_to_method_choice,
    next_message,
    sign_in,
    sign_out,
)
from journeys import (
    DEFAULT_APP_NAME,
    NEW_PASSWORD_PATH,
    RESET_CHOICE_PATH,
    RESET_NOTE,
    VERIFY_PATH,
    admin_with_an_app,
    choose_reset_method,
    expect_reset_note,
    expect_the_password_reset,
    open_forgotten_password,
    prove_it_is_you,
    save_new_password,
    start_password_reset,
    user_with_an_app,
)
import test_phone_call as call
from test_authenticator_app import a_wrong_code
import test_security_key as security_key
import test_text_message as text

NEW_PASSWORD = "a fresh long passphrase 58"
SIGN_IN_ERROR = "Enter a correct email address and password"
WRONG_CODE_ERROR = "The code is not correct. Check it and try again"
RESET_EMAIL = "Your NHSmal password has been reset"
APP_HEADING = "Enter the code from your authenticator app"
UNKNOWN_EMAIL = "nobody.here@demo1.nhs.uk"
SECOND_OF_TWO = "Now prove it is you with a second, different method."


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def expect_the_reset_second_step(page: Page, heading: str, note: str = RESET_NOTE) -> None:
    expect_path(page, VERIFY_PATH)
    expect(page.get_by_role("heading", level=1, name=heading, exact=True)).to_be_visible()
    expect_reset_note(page, note)
    # Nothing signed in is reachable while resetting.
    expect(page.get_by_role("banner").get_by_role("button", name="Profile", exact=True)).to_have_count(0)


def finish_the_reset(page: Page, portal: Portal) -> None:
    """On "Create a new password": save NEW_PASSWORD; checks the sign-in page
    says so, that the person was emailed, that the old password no longer
    works, and makes NEW_PASSWORD portal.user's password from then on."""
    emails_before = len(portal.outbox())
    save_new_password(page, NEW_PASSWORD)
    expect_the_password_reset(page)
    next_message(portal, emails_before, "email", to=portal.user.email)
    assert [m["subject"] for m in portal.outbox()[emails_before:] if m["channel"] == "email"] == [RESET_EMAIL]

    # The reset state is spent: the new-password page doesn't open again.
    page.goto(portal.url(NEW_PASSWORD_PATH))
    expect_path(page, "/forgotten-password")

    sign_in(page, portal, password=PASSWORD)
    expect(error_summary(page)).to_contain_text(SIGN_IN_ERROR)
    portal.user = dataclasses.replace(portal.user, password=NEW_PASSWORD)


# --------------------------------------------------------------------------
# Each kind of method
# --------------------------------------------------------------------------


def test_a_person_resets_their_password_with_an_authenticator_app_and_signs_in_with_the_new_one(
    portal: Portal, page: Page
) -> None:
    app = user_with_an_app(page, portal)
    sign_out(page)

    start_password_reset(page, portal, portal.user.email)
    expect_the_reset_second_step(page, APP_HEADING)
    prove_it_is_you(page, app)
    finish_the_reset(page, portal)

    sign_in(page, portal)
    prove_it_is_you(page, app)
    expect_my_profile(page)


def test_a_person_resets_their_password_with_a_texted_code_and_signs_in_with_the_new_one(
    portal: Portal, page: Page
) -> None:
    text.enrol(page, portal)
    sign_out(page)

    before = len(portal.outbox())
    start_password_reset(page, portal, portal.user.email, "Text message")
    expect_the_reset_second_step(page, "Enter the code we sent to your phone")
    code = text.expect_a_texted_code(next_message(portal, before, "sms"))
    text.submit_code(page, code)
    finish_the_reset(page, portal)

    code = text.reach_the_second_step(page, portal)
    text.submit_code(page, code)
    expect_my_profile(page)


def test_a_person_resets_their_password_by_answering_a_call_and_signs_in_with_the_new_one(
    portal: Portal, page: Page
) -> None:
    call.enrol(page, portal, javascript=True)
    sign_out(page)

    before = len(portal.outbox())
    start_password_reset(page, portal, portal.user.email, "Phone call")
    expect_the_reset_second_step(page, "Answer the call to your phone")
    keypad_url = call.expect_a_call(portal, next_message(portal, before, "voice"))
    expect_the_page_scripts_load(page)
    call.press(keypad_url, "#")
    # The page moves on by itself once # is pressed.
    expect_path(page, NEW_PASSWORD_PATH, call.MOVES_ON_BY_ITSELF_MS)
    finish_the_reset(page, portal)

    keypad_url = call.reach_the_second_step(page, portal)
    call.press(keypad_url, "#")
    expect_path(page, "/profile", call.MOVES_ON_BY_ITSELF_MS)
    expect_my_profile(page)


def test_a_person_resets_their_password_with_a_security_key_and_signs_in_with_the_new_one(
    portal: Portal, page: Page
) -> None:
    key = security_key.SecurityKey(page)
    security_key.enrol(page, portal, key)
    sign_out(page)

    start_password_reset(page, portal, portal.user.email, "FIDO2 token")
    expect_the_reset_second_step(page, "Use your security key")
    expect_the_page_scripts_load(page)
    count = key.credentials()[0]["signCount"]
    page.get_by_role("button", name="Use security key", exact=True).click()
    security_key.expect_the_ceremony_to_lead_to(page, "Create a new password")
    assert key.credentials()[0]["signCount"] > count, key.credentials()
    finish_the_reset(page, portal)

    security_key.reach_the_second_step(page, portal)
    page.get_by_role("button", name="Use security key", exact=True).click()
    security_key.expect_the_ceremony_to_lead_to(page, "My Profile")
    expect_my_profile(page)


# --------------------------------------------------------------------------
# Administrators, unknown addresses, other sessions
# --------------------------------------------------------------------------


def test_an_administrator_proves_two_different_methods_to_reset_their_password(
    portal: Portal, page: Page
) -> None:
    admin, app = admin_with_an_app(page, portal, "lou.admin@demo1.nhs.uk", "Lou Admin")
    go_to_method_choice(page)
    choose_method(page, "Text message")
    text.expect_the_number_stage(page)
    text.submit_code(page, text.send_a_code(page, portal))
    expect_a_method_added(page, "Text message")
    sign_out(page)
    portal.user = admin

    # The first step reads as anyone's: nothing says an administrator needs two.
    start_password_reset(page, portal, admin.email)
    expect_the_reset_second_step(page, APP_HEADING)
    before = len(portal.outbox())
    prove_it_is_you(page, app)

    # One method is not enough: a second, different kind is asked for.
    expect_path(page, RESET_CHOICE_PATH)
    expect_reset_note(page, SECOND_OF_TWO)
    expect(page.get_by_role("radio", name="Authenticator app", exact=True)).to_have_count(0)
    choose_reset_method(page, "Text message", SECOND_OF_TWO)
    expect_the_reset_second_step(page, "Enter the code we sent to your phone", SECOND_OF_TWO)
    code = text.expect_a_texted_code(next_message(portal, before, "sms"))
    # Another way leads back to the choice, where the app is not offered again.
    page.get_by_role("link", name="Sign in another way", exact=True).click()
    expect_path(page, RESET_CHOICE_PATH)
    expect(page.get_by_role("radio", name="Authenticator app", exact=True)).to_have_count(0)
    page.goto(portal.url(NEW_PASSWORD_PATH))
    expect_path(page, "/forgotten-password")
    page.goto(portal.url(VERIFY_PATH))
    expect_reset_note(page, SECOND_OF_TWO)

    text.submit_code(page, code)
    finish_the_reset(page, portal)

    # Signing in with the new password, by text message: the app has given
    # its codes for the steps around now.
    sign_in(page, portal)
    expect_path(page, VERIFY_PATH)
    page.get_by_role("link", name="Sign in another way", exact=True).click()
    before = len(portal.outbox())
    page.get_by_role("main").get_by_role("link", name=re.compile(r"^Text message")).click()
    text.submit_code(page, text.expect_a_texted_code(next_message(portal, before, "sms")))
    expect_my_profile(page)


def test_an_unknown_email_address_gets_the_same_second_step_as_a_person_with_an_app_and_no_code_works(
    portal: Portal, page: Page, new_page: Callable[..., Page]
) -> None:
    app = user_with_an_app(page, portal)
    sign_out(page)
    known, unknown = page, new_page()

    for p, email in ((known, portal.user.email), (unknown, UNKNOWN_EMAIL)):
        open_forgotten_password(p, portal)
        p.get_by_role("textbox", name="Email address", exact=True).fill(email)
        p.get_by_role("button", name="Continue", exact=True).click()
        expect_path(p, RESET_CHOICE_PATH)
    # The same choice for both, and nothing sent before it.
    expect_the_same_page(known, unknown)
    for p in (known, unknown):
        choose_reset_method(p, "Authenticator app")
        expect_the_reset_second_step(p, APP_HEADING)
        expect(p.get_by_role("textbox", name="Verification code", exact=True)).to_be_visible()
        expect(p.get_by_role("button", name="Verify", exact=True)).to_be_visible()
        # The step names no method of the account.
        expect(p.get_by_role("main")).not_to_contain_text(f"\u201c{DEFAULT_APP_NAME}\u201d")
    expect_the_same_page(known, unknown)
    for p in (known, unknown):
        response = p.reload()
        assert response is not None and response.status == 200, f"{p.url} answered {response and response.status}"

    # Sign in another way leads back to the same choice either way.
    for p in (known, unknown):
        p.get_by_role("link", name="Sign in another way", exact=True).click()
        expect_path(p, RESET_CHOICE_PATH)
    expect_the_same_page(known, unknown)
    for p in (known, unknown):
        p.go_back()
        expect_path(p, VERIFY_PATH)

    # Even the person's right code doesn't work for the unknown address.
    known.get_by_role("textbox", name="Verification code", exact=True).fill(a_wrong_code(app.totp))
    known.get_by_role("button", name="Verify", exact=True).click()
    unknown.get_by_role("textbox", name="Verification code", exact=True).fill(app.code())
    unknown.get_by_role("button", name="Verify", exact=True).click()
    for p in (known, unknown):
        expect(error_summary(p)).to_contain_text(WRONG_CODE_ERROR)
        expect_the_reset_second_step(p, APP_HEADING)
    expect_the_same_page(known, unknown)
    unknown.goto(portal.url(NEW_PASSWORD_PATH))
    expect_path(unknown, "/forgotten-password")


def expect_the_same_page(a: Page, b: Page) -> None:
    """The two pages show the same title and the same words."""
    assert a.title() == b.title(), (a.title(), b.title())
    assert a.get_by_role("main").inner_text() == b.get_by_role("main").inner_text(), (
        f"{a.url} and {b.url} differ:\n--- known\n{a.get_by_role('main').inner_text()}\n"
        f"--- unknown\n{b.get_by_role('main').inner_text()}"
    )


def test_resetting_the_password_signs_the_person_out_of_their_other_sessions(
    portal: Portal, page: Page, new_page: Callable[..., Page]
) -> None:
    # Still signed in on `page` from enrolling.
    app = user_with_an_app(page, portal)
    other = new_page()

    start_password_reset(other, portal, portal.user.email)
    prove_it_is_you(other, app)
    save_new_password(other, NEW_PASSWORD)
    expect_the_password_reset(other)

    page.goto(portal.url("/profile/self-service"))
    expect_path(page, "/sign-in")
