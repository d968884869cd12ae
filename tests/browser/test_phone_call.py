"""Self-enrolment of phone calls, and the call at sign-in.

The embedded provider records each call in the outbox with a `keypad_url`;
an HTTP POST there with the form field `Digits` is the person pressing keys
on the call, through the same code path a telephony provider's webhook takes
(DESIGN.md section 2). With JavaScript the waiting page polls
/approvals/current and moves on by itself; without, "Continue" does.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable

import pytest
from playwright.sync_api import Page, expect

from harness import (
    Portal,
    axe,
    choose_method,
    expect_a_method_added,
    expect_my_profile,
    expect_path,
    expect_the_page_scripts_load,
    next_message,
    open_method_choice,
    sign_in,
    sign_out,
)

SETUP_PATH = "/profile/self-service/enrol/phone-call"
VERIFY_PATH = "/sign-in/verify"
NUMBER_TYPED = "07700 900123"
NUMBER = "+447700900123"
# The page polls every 2 s after a first wait of 2 s; allow a few rounds.
MOVES_ON_BY_ITSELF_MS = 10_000


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def press(keypad_url: str, digits: str) -> str:
    """The person presses `digits` on the call: POST Digits=... to the call's
    keypad URL, as the telephony provider would. Returns the answer's text."""
    data = urllib.parse.urlencode({"Digits": digits}).encode()
    request = urllib.request.Request(keypad_url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    assert status == 200, f"POST Digits={digits} to {keypad_url} answered {status}: {text}"
    return text


def expect_a_call(portal: Portal, message: dict) -> str:
    """Checks one outbox line is a call to NUMBER; its keypad URL."""
    assert message["to"] == NUMBER, message
    assert message["subject"] is None and message["code"] is None, message
    assert "#" in message["body"] or "hash" in message["body"], message
    keypad_url = message.get("keypad_url")
    assert isinstance(keypad_url, str) and keypad_url.startswith(portal.base_url + "/"), (
        f"the call's keypad_url is not on {portal.base_url}: {message}"
    )
    return keypad_url


def open_phone_call_setup(page: Page, portal: Portal) -> None:
    """Sign in with the password, then Profile › My Profile › Self-Service ›
    Self-enroll for MFA › Phone call › Continue."""
    open_method_choice(page, portal)
    choose_method(page, "Phone call")
    expect_the_number_stage(page)


def expect_the_number_stage(page: Page) -> None:
    expect_path(page, SETUP_PATH)
    expect(page.get_by_role("heading", level=1, name="Set up phone calls", exact=True)).to_be_visible()
    expect(page.get_by_role("textbox", name="Phone number", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Call me", exact=True)).to_be_visible()


def call_me(page: Page, portal: Portal) -> str:
    """From the number stage: ask for a call to NUMBER; checks the page now
    waits for the keypress, and returns the call's keypad URL."""
    before = len(portal.outbox())
    page.get_by_role("textbox", name="Phone number", exact=True).fill(NUMBER_TYPED)
    page.get_by_role("button", name="Call me", exact=True).click()
    expect_the_call_stage(page)
    return expect_a_call(portal, next_message(portal, before, "voice"))


def expect_the_call_stage(page: Page) -> None:
    expect_path(page, SETUP_PATH)
    expect(page.get_by_role("heading", level=1, name="Answer the call", exact=True)).to_be_visible()
    main = page.get_by_role("main")
    expect(main).to_contain_text(re.compile(r"\banswer\b.*\bpress\b.*#", re.I | re.S))
    expect(main).to_contain_text(re.compile(r"ending 123\b", re.I))
    expect(page.get_by_role("button", name="Continue", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Call again", exact=True)).to_be_visible()


def expect_phone_calls_listed(page: Page, timeout: int | None = None) -> None:
    expect_path(page, "/profile/self-service", timeout)
    row = expect_a_method_added(page, "Phone call")
    expect(row.get_by_text("Ending 123", exact=True)).to_be_visible()
    expect(row.get_by_text("Default", exact=True)).to_be_visible()


def reach_the_second_step(page: Page, portal: Portal) -> str:
    """Sign in with the password; checks the second step places a call as it
    opens, and returns its keypad URL."""
    before = len(portal.outbox())
    sign_in(page, portal)
    expect_the_second_step(page)
    return expect_a_call(portal, next_message(portal, before, "voice"))


def expect_the_second_step(page: Page) -> None:
    expect_path(page, VERIFY_PATH)
    expect(page.get_by_role("heading", level=1, name="Answer the call to your phone", exact=True)).to_be_visible()
    main = page.get_by_role("main")
    expect(main).to_contain_text(re.compile(r"press the hash key \(#\)", re.I))
    expect(main).to_contain_text(re.compile(r"ending 123\b", re.I))
    expect(page.get_by_role("button", name="Continue", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Call again", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Sign in another way", exact=True)).to_be_visible()
    # No code to type on a call.
    expect(page.get_by_role("textbox", name="Verification code", exact=True)).to_have_count(0)


def continue_after_the_call(page: Page, javascript: bool) -> int | None:
    """With JavaScript, wait for the page to move on by itself (returns the
    timeout to use for that); without, select Continue."""
    if javascript:
        expect_the_page_scripts_load(page)
        return MOVES_ON_BY_ITSELF_MS
    page.get_by_role("button", name="Continue", exact=True).click()
    return None


def enrol(page: Page, portal: Portal, javascript: bool) -> None:
    open_phone_call_setup(page, portal)
    keypad_url = call_me(page, portal)
    press(keypad_url, "#")
    expect_phone_calls_listed(page, continue_after_the_call(page, javascript))


def enrol_in_a_browser_without_javascript(portal: Portal, new_page: Callable[..., Page]) -> None:
    """Enrol phone calls in a browser of its own, signed out afterwards, so a
    test can sign in elsewhere (with JavaScript on) without racing the poll."""
    other = new_page(java_script_enabled=False)
    enrol(other, portal, javascript=False)
    sign_out(other)


def enrol_and_sign_in_with_a_call(page: Page, portal: Portal, javascript: bool) -> None:
    enrol(page, portal, javascript)
    sign_out(page)
    keypad_url = reach_the_second_step(page, portal)
    press(keypad_url, "#")
    timeout = continue_after_the_call(page, javascript)
    expect_path(page, "/profile", timeout)
    expect_my_profile(page)


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_a_person_enrols_phone_calls_and_signs_in_by_pressing_hash_and_the_page_moves_on_by_itself(
    portal: Portal, page: Page
) -> None:
    enrol_and_sign_in_with_a_call(page, portal, javascript=True)


def test_a_person_without_javascript_enrols_phone_calls_and_signs_in_by_pressing_hash_then_continue(
    portal: Portal, new_page: Callable[..., Page]
) -> None:
    enrol_and_sign_in_with_a_call(new_page(java_script_enabled=False), portal, javascript=False)


def test_pressing_zero_hash_at_sign_in_blocks_the_sign_in_and_emails_the_person(
    portal: Portal, new_page: Callable[..., Page]
) -> None:
    page = new_page(java_script_enabled=False)
    enrol(page, portal, javascript=False)
    sign_out(page)
    keypad_url = reach_the_second_step(page, portal)

    before = len(portal.outbox())
    press(keypad_url, "0#")
    email = next_message(portal, before, "email", to=portal.user.email)
    assert "blocked a sign-in" in (email["subject"] or ""), email

    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Sign-in blocked", exact=True)).to_be_visible()
    # The attempt is over: nothing signed in is reachable.
    page.goto(portal.url("/profile"))
    expect_path(page, "/sign-in")


def test_pressing_zero_hash_at_sign_in_with_javascript_shows_the_block_by_itself(
    portal: Portal, page: Page, new_page: Callable[..., Page]
) -> None:
    enrol_in_a_browser_without_javascript(portal, new_page)
    keypad_url = reach_the_second_step(page, portal)
    press(keypad_url, "0#")
    expect_the_page_scripts_load(page)
    expect(page.get_by_role("heading", level=1, name="Sign-in blocked", exact=True)).to_be_visible(
        timeout=MOVES_ON_BY_ITSELF_MS
    )


# --------------------------------------------------------------------------
# Accessibility
# --------------------------------------------------------------------------


def number_stage(page: Page, portal: Portal, new_page: Callable[..., Page]) -> None:
    open_phone_call_setup(page, portal)


def call_stage(page: Page, portal: Portal, new_page: Callable[..., Page]) -> None:
    open_phone_call_setup(page, portal)
    call_me(page, portal)


def second_step(page: Page, portal: Portal, new_page: Callable[..., Page]) -> None:
    enrol_in_a_browser_without_javascript(portal, new_page)
    reach_the_second_step(page, portal)


PAGES: dict[str, Callable[[Page, Portal, Callable[..., Page]], None]] = {
    "phone-call setup, number": number_stage,
    "phone-call setup, waiting for the call": call_stage,
    "second step by phone call": second_step,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_each_phone_call_page_has_no_accessibility_violations(
    name: str, portal: Portal, page: Page, new_page: Callable[..., Page]
) -> None:
    PAGES[name](page, portal, new_page)
    axe(page, name)
