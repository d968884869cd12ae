"""The help section: its index and search, "Was this helpful?" feeding the
collated feedback, and the contextual links on enrolment steps, second steps,
error pages and the rollout reminder, each leading to a page whose heading
matches the situation."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from harness import Portal, axe, expect_path, go_to_method_choice, sign_in, sign_out
from journeys import VERIFY_PATH, admin_with_an_app, day, set_policy, user_with_an_app


def heading(page: Page):
    return page.get_by_role("heading", level=1)


def follow(page: Page, link_name: str, expected_heading: str) -> None:
    """Follow the link called `link_name` and expect a help page headed `expected_heading`."""
    page.get_by_role("link", name=link_name, exact=True).click()
    expect(heading(page)).to_have_text(expected_heading)
    assert re.search(r"/help(/|$|\?)", page.url), page.url


def test_the_help_index_lists_every_topic_and_its_search_finds_the_page(portal: Portal, page: Page) -> None:
    page.goto(portal.url("/sign-in"))
    page.get_by_role("link", name="Help", exact=True).click()
    expect(heading(page)).to_have_text("Help with the NHSmal Portal")
    axe(page, "help index")
    for section in ("About multi-factor authentication", "Setting up a method", "Signing in",
                    "When things change", "For local administrators"):
        expect(page.get_by_role("heading", level=2, name=section, exact=True)).to_be_visible()
    page.get_by_role("searchbox", name="Search the help", exact=True).fill("new phone")
    page.get_by_role("button", name="Search", exact=True).click()
    results = page.get_by_role("list", name=re.compile("Help pages about"))
    expect(results.get_by_role("link").first).to_have_text("I have a new phone. What do I do?")
    axe(page, "help search results")
    page.get_by_role("searchbox", name="Search the help", exact=True).fill("x" * 101)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Search for 100 characters or fewer")
    axe(page, "help search with an error")
    page.get_by_role("searchbox", name="Search the help", exact=True).fill("qwertyuiop")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", level=2, name=re.compile("No help pages match"))).to_be_visible()


def test_was_this_helpful_feeds_the_collated_feedback(portal: Portal, page: Page) -> None:
    page.goto(portal.url("/help/new-phone"))
    expect(heading(page)).to_have_text("I have a new phone. What do I do?")
    axe(page, "help page")
    # Nothing chosen: a clear error, nothing stored.
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Select yes if this page was helpful")
    # The summary's link takes the focus to the first answer.
    page.get_by_role("alert").get_by_role("link").click()
    expect(page.get_by_role("radio", name="Yes", exact=True)).to_be_focused()
    page.get_by_role("group", name="Was this helpful?").get_by_role("radio", name="No", exact=True).check()
    page.get_by_role("textbox", name="What were you looking for? (optional)").fill("How to move my app")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Thank you for your feedback")

    admin_with_an_app(page, portal, "national@demo1.nhs.uk", "Nat Admin", role="national-admin")
    page.goto(portal.url("/admin/feedback"))
    expect(page.get_by_role("table", name=re.compile("topic", re.I)).first).to_contain_text("Help pages")
    expect(page.get_by_role("main")).to_contain_text("I have a new phone. What do I do?: How to move my app")


def test_enrolment_steps_link_to_the_help_for_that_step(portal: Portal, page: Page) -> None:
    sign_in(page, portal)
    go_to_method_choice(page)
    follow(page, "Which method should I choose?", "Which method should I choose?")
    page.go_back()
    page.get_by_role("radio", name="Authenticator app", exact=True).check()
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page.get_by_role("link", name="Open in authenticator app", exact=True)).to_have_attribute(
        "href", re.compile(r"^otpauth://totp/NHSmal:")
    )
    follow(page, "Help with setting up an authenticator app", "How do I set up an authenticator app?")
    for method, link, expected in (
        ("Text message", "Help with setting up text messages", "How do I set up text messages?"),
        ("Phone call", "Help with setting up phone calls", "How do I set up phone calls?"),
        ("FIDO2 token", "Help with setting up a security key", "How do I set up a security key?"),
    ):
        go_to_method_choice(page)
        page.get_by_role("radio", name=method, exact=True).check()
        page.get_by_role("button", name="Continue", exact=True).click()
        follow(page, link, expected)


def test_the_second_step_and_its_error_page_link_to_the_help_for_that_situation(portal: Portal, page: Page) -> None:
    user_with_an_app(page, portal)
    sign_out(page)
    sign_in(page, portal)
    expect_path(page, VERIFY_PATH)
    follow(page, "Help with signing in with an authenticator app", "How do I sign in with an authenticator app?")
    page.go_back()
    follow(page, "I cannot use this method", "I lost my phone or security key. How do I sign in?")
    # A page that does not exist links to the help.
    page.goto(portal.url("/no-such-page"))
    follow(page, "Get help with the NHSmal Portal", "Help with the NHSmal Portal")


def test_the_rollout_reminder_links_to_why_do_i_need_mfa(portal: Portal, page: Page) -> None:
    set_policy(portal, day(10))
    sign_in(page, portal)
    expect(heading(page)).to_have_text("Set up multi-factor authentication")
    follow(page, "Why do I need MFA?", "Why do I need MFA?")


def test_recent_activity_and_the_mfa_reset_link_to_their_help(portal: Portal, page: Page) -> None:
    user_with_an_app(page, portal)
    page.goto(portal.url("/profile/activity"))
    follow(page, "What to do if you see a sign-in that wasn't you",
           "I was asked for a code I didn't expect. What should I do?")


def test_every_help_page_is_headed_as_the_index_names_it_and_passes_the_accessibility_checks(
    portal: Portal, page: Page
) -> None:
    page.goto(portal.url("/help"))
    links = page.get_by_role("main").get_by_role("link").evaluate_all(
        "els => els.filter(e => e.getAttribute('href').startsWith('/help/'))"
        ".map(e => [e.getAttribute('href'), e.textContent.trim()])"
    )
    assert len(links) >= 24, links
    for href, name in links:
        page.goto(portal.url(href))
        expect(heading(page)).to_have_text(name)
        axe(page, href)
