"""Feedback: the form for everyone, signed out or in; its errors; and the
collated feedback national administrators read."""

from __future__ import annotations

from typing import Callable

from playwright.sync_api import Page, expect

from harness import ORG_CODE, Portal, error_summary, expect_my_profile, expect_path, header, sign_in
from journeys import admin_with_an_app

THANK_YOU_PATH = "/feedback/thank-you"
SELECT_TOPIC = "Select what your feedback is about"
SELECT_RATING = "Select how easy it was"
COMMENTS_TOO_LONG = "Your comments must be 2,000 characters or fewer"
SIGNED_OUT_COMMENT = "The sign-in page was clear and quick."
SIGNED_IN_COMMENT = "Setting up the authenticator app took two minutes."


def give_feedback(page: Page, topic: str, rating: str, comments: str) -> None:
    page.get_by_role("radio", name=topic, exact=True).check()
    page.get_by_role("radio", name=rating, exact=True).check()
    page.get_by_role("textbox", name="Tell us more (optional)", exact=True).fill(comments)
    page.get_by_role("button", name="Send feedback", exact=True).click()


def expect_thanks(page: Page) -> None:
    expect_path(page, THANK_YOU_PATH)
    expect(page.get_by_role("heading", level=1, name="Thank you for your feedback", exact=True)).to_be_visible()


def open_the_form_signed_out(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/sign-in"))
    page.get_by_role("contentinfo").get_by_role("link", name="Feedback", exact=True).click()
    expect_path(page, "/feedback")
    expect(page.get_by_role("heading", level=1, name="Give feedback", exact=True)).to_be_visible()


def test_feedback_is_sent_signed_out_and_signed_in_and_a_national_admin_reads_it(
    portal: Portal, new_page: Callable[..., Page]
) -> None:
    visitor = new_page()
    open_the_form_signed_out(visitor, portal)
    give_feedback(visitor, "Signing in", "4 – Easy", SIGNED_OUT_COMMENT)
    expect_thanks(visitor)

    person = new_page()
    sign_in(person, portal)
    expect_my_profile(person)
    header(person).get_by_role("link", name="Feedback", exact=True).click()
    expect_path(person, "/feedback")
    give_feedback(person, "Setting up MFA", "5 – Very easy", SIGNED_IN_COMMENT)
    expect_thanks(person)

    admin = new_page()
    admin_with_an_app(admin, portal, "nat.admin@demo1.nhs.uk", "Nat Admin", role="national-admin")
    admin.get_by_role("main").get_by_role("link", name="Feedback", exact=True).click()
    expect_path(admin, "/admin/feedback")
    expect(admin.get_by_role("heading", level=1, name="Feedback", exact=True)).to_be_visible()
    main = admin.get_by_role("main")
    expect(main).to_contain_text("2 submissions. Average rating: 4.5 out of 5.")

    by_topic = admin.get_by_role("table", name="Submissions by topic")
    expect(by_topic.get_by_role("row", name="Setting up MFA 1")).to_have_count(1)
    expect(by_topic.get_by_role("row", name="Signing in 1")).to_have_count(1)
    expect(by_topic.get_by_role("row", name="Other 0")).to_have_count(1)

    comments = admin.get_by_role("table", name="Comments, newest first", exact=False)
    signed_in_row = comments.get_by_role("row").filter(has_text=SIGNED_IN_COMMENT)
    expect(signed_in_row).to_contain_text(ORG_CODE)
    expect(signed_in_row).to_contain_text("Setting up MFA")
    signed_out_row = comments.get_by_role("row").filter(has_text=SIGNED_OUT_COMMENT)
    expect(signed_out_row).to_contain_text("Signed out")
    expect(signed_out_row).to_contain_text("4 – Easy")
    # Feedback is never about a named person.
    expect(comments).not_to_contain_text(portal.user.email)


def test_an_empty_submission_is_refused_with_links_to_the_fields(portal: Portal, page: Page) -> None:
    open_the_form_signed_out(page, portal)
    page.get_by_role("button", name="Send feedback", exact=True).click()

    summary = error_summary(page)
    expect(summary).to_be_visible()
    expect_path(page, "/feedback")
    expect(page).to_have_title("Error: Give feedback – NHSmal Portal")
    links = summary.get_by_role("link")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_have_text(SELECT_TOPIC)
    expect(links.nth(1)).to_have_text(SELECT_RATING)

    # Each link leads to the first choice of its question.
    for link, first_choice in ((links.nth(0), "Setting up MFA"), (links.nth(1), "1 – Very difficult")):
        target = link.get_attribute("href")
        assert target and target.startswith("#"), f"not a link on the page: {target!r}"
        expect(page.locator(target)).to_have_count(1)
        radio = page.get_by_role("radio", name=first_choice, exact=True)
        expect(radio).to_have_attribute("id", target[1:])
        link.click()
        expect(radio).to_be_focused()

    # Each question says what is wrong, next to it.
    expect(page.get_by_role("group", name="What is your feedback about?")).to_contain_text(SELECT_TOPIC)
    expect(page.get_by_role("group", name="How easy was it?")).to_contain_text(SELECT_RATING)


def test_comments_over_2000_characters_are_refused_and_kept_for_editing(portal: Portal, page: Page) -> None:
    open_the_form_signed_out(page, portal)
    too_long = "a" * 2001
    box = page.get_by_role("textbox", name="Tell us more (optional)", exact=True)
    # The character count's JavaScript doesn't stop typing; the server decides.
    give_feedback(page, "Other", "3 – Neither easy nor difficult", too_long)
    expect(error_summary(page).get_by_role("link", name=COMMENTS_TOO_LONG, exact=True)).to_have_attribute(
        "href", "#comments"
    )
    expect(box).to_have_value(too_long)
    expect(page.get_by_role("radio", name="Other", exact=True)).to_be_checked()

    box.fill("a" * 2000)
    page.get_by_role("button", name="Send feedback", exact=True).click()
    expect_thanks(page)
