"""The local administrators' rollout kit: who in their organisation has not
set up MFA, a ready email to send them (editable), and a one-page guide that
prints without the portal's header and footer."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from harness import Portal, axe
from journeys import admin_with_an_app, day, human, set_policy


def test_a_local_administrator_gets_the_people_an_email_and_a_guide_to_print(portal: Portal, page: Page) -> None:
    required = day(30)
    portal.cli_ok("org", "set-contact", "--code", "DEMO1", "--contact", "Practice manager, 0161 496 0000")
    portal.add_user("bea.example@demo1.nhs.uk", "Bea Example")
    admin_with_an_app(page, portal, "la.example@demo1.nhs.uk", "Lou Admin")
    set_policy(portal, required)
    page.goto(portal.url("/admin"))
    page.get_by_role("link", name=re.compile("^Rollout kit")).click()
    expect(page.get_by_role("heading", level=1, name="Rollout kit", exact=True)).to_be_visible()
    axe(page, "rollout kit")

    people = page.get_by_role("table", name="People who have not set up MFA")
    expect(people).to_contain_text(portal.user.email)
    expect(people).to_contain_text("bea.example@demo1.nhs.uk")
    # The administrator has an app: not listed.
    expect(people).not_to_contain_text("la.example@demo1.nhs.uk")
    addresses = page.get_by_role("textbox", name=re.compile("^Their email addresses"))
    expect(addresses).to_have_value(re.compile("bea.example@demo1.nhs.uk"))

    subject = page.get_by_role("textbox", name="Subject", exact=True)
    expect(subject).to_have_value(re.compile(re.escape(human(required))))
    message = page.get_by_role("textbox", name="Message", exact=True)
    expect(message).to_have_value(re.compile("Demo Pharmacy"))
    expect(message).to_have_value(re.compile("Practice manager, 0161 496 0000"))
    expect(message).to_have_value(re.compile(re.escape(portal.url("/help/"))))
    assert "{" not in message.input_value(), "a placeholder was left in the email"
    # It can be changed before it is copied.
    message.fill("Please set up MFA this week.")
    expect(message).to_have_value("Please set up MFA this week.")

    page.get_by_role("link", name="Open the guide to print", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Set up multi-factor authentication for NHSmal", exact=True)).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(human(required))
    axe(page, "rollout guide")
    page.emulate_media(media="print")
    expect(page.get_by_role("banner")).to_be_hidden()
    expect(page.get_by_role("link", name="Back to the rollout kit", exact=True)).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    # One A4 page.
    pdf = page.pdf(format="A4")
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf))
    assert pages == 1, f"the guide prints on {pages} pages"


def test_a_local_administrator_cannot_open_another_organisations_kit(portal: Portal, page: Page) -> None:
    portal.add_org("OTHER1", "Other Surgery")
    admin_with_an_app(page, portal, "la.example@demo1.nhs.uk", "Lou Admin")
    response = page.goto(portal.url("/admin/rollout-kit?org=OTHER1"))
    assert response is not None and response.status == 403
    response = page.goto(portal.url("/admin/rollout-kit/guide?org=OTHER1"))
    assert response is not None and response.status == 403
