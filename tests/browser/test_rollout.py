"""The MFA rollout as a person meets it: a reminder after sign-in before the
date ("Set up now", "Remind me later"), and from the date nothing but
enrolment until a method is set up; the last method then stays."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from harness import (
    Portal,
    expect_my_profile,
    expect_path,
    header,
    open_profile_menu,
    sign_in,
    sign_out,
)
from journeys import (
    ENROL_PATH,
    day,
    enrol_authenticator_app,
    expect_the_method_added,
    human,
    prove_it_is_you,
    set_policy,
)

REMINDER_PATH = "/mfa-reminder"
LAST_METHOD_REFUSED = "You cannot remove your last method while multi-factor authentication is required"


def expect_the_reminder(page: Page, by: str, snoozes_left: int) -> None:
    expect_path(page, REMINDER_PATH)
    main = page.get_by_role("main")
    expect(page.get_by_role("heading", level=1, name="Set up multi-factor authentication", exact=True)).to_be_visible()
    expect(main).to_contain_text(f"You need to set up multi-factor authentication by {by}")
    expect(main.get_by_role("button", name="Set up now", exact=True)).to_be_visible()
    expect(main.get_by_role("button", name="Remind me later", exact=True)).to_be_visible()
    times = "time" if snoozes_left == 1 else "times"
    expect(main).to_contain_text(f"You can put this off {snoozes_left} more {times}")


def expect_the_method_choice(page: Page) -> None:
    expect_path(page, ENROL_PATH)
    expect(
        page.get_by_role("heading", level=1, name="How do you want to prove it is you?", exact=True)
    ).to_be_visible()
    expect(page.get_by_role("radio", name="Authenticator app", exact=True)).to_be_visible()


def expect_enrolment_only(page: Page, since: str) -> None:
    expect_the_method_choice(page)
    main = page.get_by_role("main")
    expect(main).to_contain_text(f"Multi-factor authentication has been required since {since}")
    # Nowhere else to go from here.
    expect(main.get_by_role("link", name="Back to Self-Service", exact=True)).to_have_count(0)


def test_before_the_date_a_person_without_mfa_is_reminded_and_may_put_it_off(portal: Portal, page: Page) -> None:
    by = day(5)
    set_policy(portal, by)

    sign_in(page, portal)
    expect_the_reminder(page, human(by), snoozes_left=3)

    page.get_by_role("button", name="Remind me later", exact=True).click()
    expect_my_profile(page)

    # Put off for a day: the next sign-in goes straight to My Profile.
    sign_out(page)
    sign_in(page, portal)
    expect_my_profile(page)
    page.goto(portal.url(REMINDER_PATH))
    expect_my_profile(page)


def test_set_up_now_leads_to_the_method_choice(portal: Portal, page: Page) -> None:
    by = day(5)
    set_policy(portal, by)

    sign_in(page, portal)
    expect_the_reminder(page, human(by), snoozes_left=3)
    page.get_by_role("button", name="Set up now", exact=True).click()
    expect_the_method_choice(page)
    expect(page.get_by_role("main").get_by_role("link", name="Back to Self-Service", exact=True)).to_be_visible()
    # Until a method is set up or the reminder put off, the reminder comes before every page.
    page.goto(portal.url("/profile"))
    expect_the_reminder(page, human(by), snoozes_left=3)


def test_with_no_snoozes_allowed_the_reminder_has_no_remind_me_later(portal: Portal, page: Page) -> None:
    set_policy(portal, day(5), "--snoozes", "0")
    sign_in(page, portal)
    # Nothing left to put off: enrolment is required now, before the date.
    expect_the_method_choice(page)
    page.goto(portal.url("/profile"))
    expect_the_method_choice(page)
    expect(page.get_by_role("button", name="Remind me later")).to_have_count(0)


def test_after_the_date_a_person_without_mfa_can_only_enrol_then_reaches_my_profile(
    portal: Portal, page: Page
) -> None:
    since = day(-1)
    set_policy(portal, since)

    sign_in(page, portal)
    expect_enrolment_only(page, human(since))

    for path in ("/profile", "/profile/self-service", "/profile/change-password", REMINDER_PATH, "/admin"):
        page.goto(portal.url(path))
        expect_enrolment_only(page, human(since))

    # The header's way to My Profile leads back here too.
    open_profile_menu(page)
    page.get_by_role("link", name="My Profile", exact=True).click()
    expect_enrolment_only(page, human(since))

    enrol_authenticator_app(page, "Work phone")
    expect_the_method_added(page, "Work phone")

    open_profile_menu(page)
    page.get_by_role("link", name="My Profile", exact=True).click()
    expect_my_profile(page)
    page.get_by_role("main").get_by_role("link", name="Self-Service", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Self-Service", exact=True)).to_be_visible()
    expect(header(page).get_by_role("link", name="Feedback", exact=True)).to_be_visible()


def test_the_last_method_cannot_be_removed_while_mfa_is_required(portal: Portal, page: Page) -> None:
    set_policy(portal, day(-1))
    sign_in(page, portal)
    expect_the_method_choice(page)
    app = enrol_authenticator_app(page, "Work phone")
    expect_the_method_added(page, "Work phone")

    page.get_by_role("main").get_by_role("link", name="Remove Work phone", exact=True).click()
    # Removing asks for the second factor again first.
    prove_it_is_you(page, app)
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile(r"^Remove"))
    page.get_by_role("button", name="Remove", exact=True).click()

    expect(page.get_by_role("heading", level=1, name="You cannot do this", exact=True)).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(LAST_METHOD_REFUSED)

    page.goto(portal.url("/profile/self-service"))
    rows = page.get_by_role("main").get_by_role("table").get_by_role("row").filter(has_text="Work phone")
    expect(rows).to_have_count(1)
