"""Self-enrolment of text messages (SMS), and the texted code at sign-in.

The codes are read from the embedded provider's outbox (`<data-dir>/outbox.jsonl`,
DESIGN.md section 2), where a person's phone would receive them. The number is
Ofcom's drama number 07700 900123, which no real phone has.
"""

from __future__ import annotations

import re
from typing import Callable

import pytest
from playwright.sync_api import Page, expect

from harness import (
    Portal,
    axe,
    choose_method,
    error_summary,
    expect_a_method_added,
    expect_my_profile,
    expect_path,
    messages_after,
    next_message,
    open_method_choice,
    sign_in,
    sign_out,
)

SETUP_PATH = "/profile/self-service/enrol/text-message"
VERIFY_PATH = "/sign-in/verify"
NUMBER_TYPED = "07700 900123"
NUMBER = "+447700900123"
MALFORMED_NUMBER = "12345"
WRONG_CODE_ERROR = "The code is not correct. Check it and try again"


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def open_text_message_setup(page: Page, portal: Portal) -> None:
    """Sign in with the password, then Profile › My Profile › Self-Service ›
    Self-enroll for MFA › Text message › Continue."""
    open_method_choice(page, portal)
    choose_method(page, "Text message")
    expect_the_number_stage(page)


def expect_the_number_stage(page: Page) -> None:
    expect_path(page, SETUP_PATH)
    expect(page.get_by_role("heading", level=1, name="Set up text messages", exact=True)).to_be_visible()
    expect(page.get_by_role("textbox", name="Mobile phone number", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Send code", exact=True)).to_be_visible()


def send_code_to(page: Page, number: str) -> None:
    page.get_by_role("textbox", name="Mobile phone number", exact=True).fill(number)
    page.get_by_role("button", name="Send code", exact=True).click()


def expect_the_code_stage(page: Page) -> None:
    expect_path(page, SETUP_PATH)
    expect(page.get_by_role("textbox", name="Verification code", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Verify", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Send again", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Use a different number", exact=True)).to_be_visible()
    # Which phone the code went to, without showing the whole number.
    expect(page.get_by_role("main")).to_contain_text(re.compile(r"ending 123\b", re.I))


def expect_a_texted_code(message: dict) -> str:
    """Checks one outbox line is a verification text to NUMBER; its code."""
    assert message["to"] == NUMBER, message
    assert message["subject"] is None, message
    code = message["code"]
    assert isinstance(code, str) and re.fullmatch(r"\d{6}", code), message
    assert code in message["body"], f"the text doesn't tell the person the code: {message}"
    assert isinstance(message["at"], str) and message["at"], message
    return code


def submit_code(page: Page, code: str) -> None:
    page.get_by_role("textbox", name="Verification code", exact=True).fill(code)
    page.get_by_role("button", name="Verify", exact=True).click()


def a_wrong_code(right: str) -> str:
    return next(c for c in (str(d) * 6 for d in range(10)) if c != right)


def send_a_code(page: Page, portal: Portal) -> str:
    """From the number stage: send a code to NUMBER; the code from the outbox."""
    before = len(portal.outbox())
    send_code_to(page, NUMBER_TYPED)
    expect_the_code_stage(page)
    return expect_a_texted_code(next_message(portal, before, "sms"))


def enrol(page: Page, portal: Portal) -> None:
    """Sign in and enrol text messages to NUMBER."""
    open_text_message_setup(page, portal)
    code = send_a_code(page, portal)
    submit_code(page, code)
    expect_text_messages_listed(page)


def expect_text_messages_listed(page: Page) -> None:
    row = expect_a_method_added(page, "Text message")
    expect(row.get_by_text("Ending 123", exact=True)).to_be_visible()
    expect(row.get_by_text("Default", exact=True)).to_be_visible()
    expect(row).not_to_contain_text("900123")


def reach_the_second_step(page: Page, portal: Portal) -> str:
    """Sign in with the password; checks the second step texts a code as it
    opens, and returns that code."""
    before = len(portal.outbox())
    sign_in(page, portal)
    expect_the_second_step(page)
    return expect_a_texted_code(next_message(portal, before, "sms"))


def expect_the_second_step(page: Page) -> None:
    expect_path(page, VERIFY_PATH)
    expect(page.get_by_role("heading", level=1, name="Enter the code we sent to your phone", exact=True)).to_be_visible()
    expect(page.get_by_role("textbox", name="Verification code", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Verify", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Send again", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Sign in another way", exact=True)).to_be_visible()


def enrol_and_sign_in_with_a_text(page: Page, portal: Portal) -> None:
    enrol(page, portal)
    sign_out(page)
    code = reach_the_second_step(page, portal)
    submit_code(page, code)
    expect_my_profile(page)


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_a_person_enrols_text_messages_and_signs_in_with_a_texted_code(portal: Portal, page: Page) -> None:
    enrol_and_sign_in_with_a_text(page, portal)


def test_a_person_without_javascript_enrols_text_messages_and_signs_in_with_a_texted_code(
    portal: Portal, new_page: Callable[..., Page]
) -> None:
    enrol_and_sign_in_with_a_text(new_page(java_script_enabled=False), portal)


def test_a_malformed_number_is_refused_and_nothing_is_sent(portal: Portal, page: Page) -> None:
    open_text_message_setup(page, portal)
    before = len(portal.outbox())
    send_code_to(page, MALFORMED_NUMBER)
    expect(error_summary(page)).to_contain_text("Enter a phone number in the correct format")
    expect_the_number_stage(page)
    # What the person typed stays there to be corrected.
    expect(page.get_by_role("textbox", name="Mobile phone number", exact=True)).to_have_value(MALFORMED_NUMBER)
    assert portal.outbox()[before:] == []


def test_a_wrong_code_is_refused_at_enrolment_and_at_sign_in(portal: Portal, page: Page) -> None:
    open_text_message_setup(page, portal)
    code = send_a_code(page, portal)
    submit_code(page, a_wrong_code(code))
    expect(error_summary(page)).to_contain_text(WRONG_CODE_ERROR)
    expect_the_code_stage(page)

    # The right code still works after a wrong one.
    submit_code(page, code)
    expect_text_messages_listed(page)

    sign_out(page)
    code = reach_the_second_step(page, portal)
    submit_code(page, a_wrong_code(code))
    expect(error_summary(page)).to_contain_text(WRONG_CODE_ERROR)
    expect_the_second_step(page)
    # The second step can't be skipped; coming back to it doesn't text
    # another code while the last one is live.
    sent = len(portal.outbox())
    page.goto(portal.url("/profile"))
    expect_the_second_step(page)
    assert messages_after(portal, sent, "sms") == []


# --------------------------------------------------------------------------
# Accessibility
# --------------------------------------------------------------------------


def number_stage(page: Page, portal: Portal) -> None:
    open_text_message_setup(page, portal)


def number_stage_with_an_error(page: Page, portal: Portal) -> None:
    open_text_message_setup(page, portal)
    send_code_to(page, MALFORMED_NUMBER)
    expect(error_summary(page)).to_be_visible()


def code_stage(page: Page, portal: Portal) -> None:
    open_text_message_setup(page, portal)
    send_a_code(page, portal)


def second_step(page: Page, portal: Portal) -> None:
    enrol(page, portal)
    sign_out(page)
    reach_the_second_step(page, portal)


PAGES: dict[str, Callable[[Page, Portal], None]] = {
    "text-message setup, number": number_stage,
    "text-message setup, number with an error": number_stage_with_an_error,
    "text-message setup, code": code_stage,
    "second step by text message": second_step,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_each_text_message_page_has_no_accessibility_violations(name: str, portal: Portal, page: Page) -> None:
    PAGES[name](page, portal)
    axe(page, name)
