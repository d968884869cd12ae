"""Rollout exceptions in the admin area (issue 24): a local administrator
grants Ann a short exception after a confirmation page, Ann sees until when on
My Profile, the administrator ends it; national administrators see the lists.
Every page is checked with axe."""

from __future__ import annotations

from typing import Callable

from playwright.sync_api import Page, expect

from harness import Portal, axe, error_summary, expect_my_profile, expect_path, sign_in
from journeys import ENROL_PATH, admin_with_an_app, open_user


def test_a_local_admin_grants_and_ends_an_exception_and_the_person_sees_it(
    portal: Portal, new_page: Callable[..., Page]
) -> None:
    ann = portal.user
    admin_page = new_page()
    admin_with_an_app(admin_page, portal, "lou.admin@demo1.nhs.uk", "Lou Admin")
    portal.cli_ok("policy", "set", "--mfa-required-from", "2020-01-01")
    ann_page = new_page()
    sign_in(ann_page, portal)
    expect_path(ann_page, ENROL_PATH)

    ann_path = open_user(admin_page, portal, "Ann", ann.name)
    admin_page.get_by_role("link", name=f"Rollout exception for {ann.name}", exact=True).click()
    expect(admin_page.get_by_role("heading", level=1, name=f"Rollout exception for {ann.name}")).to_be_visible()
    axe(admin_page, "the exception page")

    # Longer than a local administrator may: an error on the form, nothing granted.
    admin_page.get_by_role("textbox", name="For how many days", exact=True).fill("30")
    admin_page.get_by_role("radio", name="Long-term leave", exact=True).check()
    admin_page.get_by_role("button", name="Continue", exact=True).click()
    expect(error_summary(admin_page)).to_contain_text("from 1 to 14 days")
    axe(admin_page, "the exception page with an error")

    admin_page.get_by_role("textbox", name="For how many days", exact=True).fill("10")
    admin_page.get_by_role("radio", name="No work phone or device yet", exact=True).check()
    admin_page.get_by_role("textbox", name='More about why (needed for "Other")', exact=True).fill("Phone on order")
    admin_page.get_by_role("button", name="Continue", exact=True).click()
    expect(admin_page.get_by_role("heading", level=1)).to_contain_text(f"Let {ann.name} sign in without MFA until")
    axe(admin_page, "the confirmation page")
    admin_page.get_by_role("button", name="Yes, grant the exception", exact=True).click()
    expect_path(admin_page, ann_path)
    expect(admin_page.get_by_role("status")).to_contain_text("The exception was granted")

    # Ann, on her next page, is let in and told until when.
    ann_page.goto(portal.url("/profile"))
    expect_my_profile(ann_page)
    expect(ann_page.locator("#mfa-exception")).to_contain_text("until")
    axe(ann_page, "My Profile with an exception")

    # The administrator ends it: Ann is held to enrolling again at once.
    admin_page.goto(portal.url(ann_path + "/exception"))
    admin_page.get_by_role("button", name="End the exception now", exact=True).click()
    expect(admin_page.get_by_role("status")).to_contain_text("The exception was ended")
    ann_page.goto(portal.url("/profile"))
    expect_path(ann_page, ENROL_PATH)


def test_a_national_admin_sees_exceptions_ending_soon(portal: Portal, page: Page) -> None:
    ann = portal.user
    portal.cli_ok("user", "exception", "add", ann.email, "--days", "5", "--reason", "leave")
    admin_with_an_app(page, portal, "nat.admin@demo1.nhs.uk", "Nat Admin", role="national-admin")
    page.get_by_role("main").get_by_role("link", name="Rollout exceptions: ending soon and renewed more than twice").click()
    expect(page.get_by_role("heading", level=1, name="Rollout exceptions", exact=True)).to_be_visible()
    ending = page.get_by_role("table", name="Ending in the next 14 days")
    expect(ending.get_by_role("row").filter(has_text=ann.email)).to_have_count(1)
    axe(page, "the exceptions lists")
