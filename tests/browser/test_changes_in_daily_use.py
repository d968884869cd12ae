"""Changes a person meets as daily use goes on (issue 20): a new phone number,
a new phone (the guided path), the local administrators' contact where pages
say to contact them, a warning and more time before a time limit, and the
admin pages' events and dates in words people use."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from harness import Portal, axe, choose_method, expect_path, next_message, open_method_choice, sign_in, sign_out
from journeys import (
    VERIFY_PATH,
    AuthenticatorApp,
    admin_with_an_app,
    prove_it_is_you,
    user_with_an_app,
)
from wcag import wcag

CONTACT = "IT service desk, 0161 496 0000, it@demo1.nhs.uk"


def text_me(page: Page, portal: Portal, number: str) -> None:
    """On the number stage of a text-message set-up: send and type back the code."""
    count = len(portal.outbox())
    page.get_by_role("textbox", name="Mobile phone number", exact=True).fill(number)
    page.get_by_role("button", name="Send code", exact=True).click()
    code = next_message(portal, count, "sms")["code"]
    page.get_by_role("textbox", name="Verification code", exact=True).fill(code)
    page.get_by_role("button", name="Verify", exact=True).click()


def test_a_person_changes_the_number_of_their_text_message_method(portal: Portal, page: Page) -> None:
    open_method_choice(page, portal)
    choose_method(page, "Text message")
    text_me(page, portal, "07700 900123")
    expect_path(page, "/profile/self-service")
    rows = page.get_by_role("table", name="Your sign-in methods").get_by_role("row")
    expect(rows.filter(has_text="123")).to_have_count(1)

    count = len(portal.outbox())
    rows.filter(has_text="123").get_by_role("link", name=re.compile("^Change number")).click()
    # Changing a method asks for a fresh second factor first: the text to the old number.
    expect_path(page, VERIFY_PATH)
    page.get_by_role("textbox", name="Verification code", exact=True).fill(next_message(portal, count, "sms")["code"])
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Change your phone number", exact=True)).to_be_visible()
    axe(page, "change your phone number")
    # A number that is not a mobile number changes nothing.
    page.get_by_role("textbox", name="Mobile phone number", exact=True).fill("12345")
    page.get_by_role("button", name="Send code", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()
    text_me(page, portal, "07700 900456")
    expect_path(page, "/profile/self-service")
    expect(page.get_by_role("main")).to_contain_text("The phone number has been changed")
    table = page.get_by_role("table", name="Your sign-in methods")
    # Still one method, now with the new number; the person was emailed.
    expect(table.get_by_role("row").filter(has_text="Text message")).to_have_count(1)
    expect(table).to_contain_text("456")
    expect(table).not_to_contain_text("123")
    assert any(
        m.get("subject") == "The phone number you sign in with was changed" for m in portal.outbox()
    ), "no email about the changed number"


def test_the_new_phone_path_adds_the_new_app_makes_it_default_and_removes_the_old(portal: Portal, page: Page) -> None:
    old = user_with_an_app(page, portal, "Old phone")
    page.get_by_role("link", name="Move to a new phone", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Move to a new phone", exact=True)).to_be_visible()
    axe(page, "move to a new phone")
    page.get_by_role("button", name="Add the app on my new phone", exact=True).click()
    # The set-up asks for the old phone first (a fresh second factor), then shows the new key.
    if VERIFY_PATH in page.url:
        prove_it_is_you(page, old)
    expect(page.get_by_role("heading", level=1, name="Set up an authenticator app", exact=True)).to_be_visible()
    key = page.locator("#totp-secret").inner_text().strip().replace(" ", "")
    new = AuthenticatorApp(key)
    page.get_by_role("textbox", name="Verification code", exact=True).fill(new.code())
    page.get_by_role("textbox", name="Name for this app (optional)", exact=True).fill("New phone")
    page.get_by_role("button", name="Verify", exact=True).click()

    expect_path(page, "/profile/new-phone")
    expect(page.locator("#step-1-done")).to_contain_text("New phone")
    page.get_by_role("button", name="Make the new phone my default", exact=True).click()
    expect(page.locator("#step-2-done")).to_be_visible()
    page.get_by_role("link", name="Remove Authenticator app: Old phone", exact=True).click()
    if VERIFY_PATH in page.url:
        prove_it_is_you(page, new)
    page.get_by_role("button", name=re.compile("^Remove")).click()
    expect_path(page, "/profile/self-service")
    table = page.get_by_role("table", name="Your sign-in methods")
    expect(table).to_contain_text("New phone")
    expect(table).not_to_contain_text("Old phone")
    # The new phone signs in.
    sign_out(page)
    sign_in(page, portal)
    prove_it_is_you(page, new)
    expect_path(page, "/profile")


def test_pages_that_say_contact_your_local_administrator_say_who(portal: Portal, page: Page) -> None:
    portal.cli_ok("org", "set-contact", "--code", "DEMO1", "--contact", CONTACT)
    user_with_an_app(page, portal)
    page.goto(portal.url("/profile"))
    expect(page.locator("#admin-contact")).to_have_text(CONTACT)
    page.goto(portal.url("/help/lost-phone-or-security-key"))
    expect(page.locator("#admin-contact")).to_contain_text(CONTACT)
    sign_out(page)
    sign_in(page, portal)
    page.get_by_role("link", name="Sign in another way", exact=True).click()
    expect(page.locator("#admin-contact")).to_contain_text(CONTACT)
    # Signed out, the help says nothing of any organisation.
    other = page.context.browser.new_context().new_page()
    other.goto(portal.url("/help/lost-phone-or-security-key"))
    expect(other.locator("#admin-contact")).to_have_count(0)
    other.context.close()
    # Too long a contact is refused and changes nothing.
    refused = portal.cli("org", "set-contact", "--code", "DEMO1", "--contact", "x" * 301)
    assert refused.returncode != 0 and "300 characters" in refused.stderr, refused.stderr


def test_a_warning_and_more_time_come_before_the_session_ends(portal: Portal, page: Page) -> None:
    page.clock.install()
    sign_in(page, portal)
    expect_path(page, "/profile")
    left = int(page.locator("body").get_attribute("data-time-left"))
    assert 25 * 60 <= left <= 30 * 60, left
    page.clock.fast_forward((left - 110) * 1000)
    warning = page.get_by_role("alertdialog", name="You will be signed out soon")
    expect(warning).to_be_visible()
    expect(warning).to_be_focused()
    axe(page, "time limit warning")
    warning.get_by_role("button", name="Stay signed in", exact=True).click()
    expect(warning).to_have_count(0)
    # Still signed in.
    page.reload()
    expect_path(page, "/profile")


def test_the_second_step_warns_before_its_ten_minutes_end_and_gives_more_time(portal: Portal, page: Page) -> None:
    app = user_with_an_app(page, portal)
    sign_out(page)
    page.clock.install()
    sign_in(page, portal)
    expect_path(page, VERIFY_PATH)
    left = int(page.locator("body").get_attribute("data-time-left"))
    assert 9 * 60 <= left <= 10 * 60, left
    page.clock.fast_forward((left - 110) * 1000)
    warning = page.get_by_role("alertdialog", name="Your time to sign in is nearly up")
    expect(warning).to_be_focused()
    warning.get_by_role("button", name="I need more time", exact=True).click()
    expect(warning).to_have_count(0)
    prove_it_is_you(page, app)
    expect_path(page, "/profile")


def test_admin_pages_show_events_in_words_and_take_dates_as_people_type_them(portal: Portal, page: Page) -> None:
    admin_with_an_app(page, portal, "la.example@demo1.nhs.uk", "Lou Admin")
    page.goto(portal.url("/admin/audit"))
    table = page.get_by_role("table").first
    expect(table).to_contain_text("Method added")
    expect(table).not_to_contain_text("mfa.method_added")
    expect(table).to_contain_text("Succeeded")
    today = page.evaluate("(() => { const d = new Date(); return `${String(d.getUTCDate()).padStart(2,'0')}/${String(d.getUTCMonth()+1).padStart(2,'0')}/${d.getUTCFullYear()}` })()")
    page.get_by_role("textbox", name="From date", exact=True).fill(today)
    page.get_by_role("textbox", name="Event", exact=True).fill("Method added")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.get_by_role("table").first).to_contain_text("Method added")
    page.get_by_role("textbox", name="From date", exact=True).fill("31/02/2026")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Enter a real date, for example 06/12/2026")


def test_an_administrator_without_a_method_is_told_what_to_set_up_instead_of_a_refusing_link(
    portal: Portal, page: Page
) -> None:
    admin = portal.add_user("new.admin@demo1.nhs.uk", "New Admin", role="local-admin")
    sign_in(page, portal, admin)
    expect_path(page, "/profile")
    expect(page.get_by_role("banner").get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    expect(page.get_by_role("main")).to_contain_text("The admin area opens once you have set up multi-factor authentication")
    wcag(page, "my profile of an administrator without a method")


def test_a_local_administrator_sets_how_their_staff_reach_them(portal: Portal, page: Page, new_page) -> None:
    admin_with_an_app(page, portal, "la.example@demo1.nhs.uk", "Lou Admin")
    field = page.get_by_role("textbox", name="Contact for your staff", exact=True)
    field.fill("x" * 301)
    page.get_by_role("button", name="Save the contact", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("The contact must be one line of up to 300 characters")
    axe(page, "admin home with a contact error")
    page.get_by_role("textbox", name="Contact for your staff", exact=True).fill(CONTACT)
    page.get_by_role("button", name="Save the contact", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("The contact for your staff has been saved")
    person = new_page()
    sign_in(person, portal)
    expect_path(person, "/profile")
    expect(person.locator("#admin-contact")).to_have_text(CONTACT)
