"""The admin area: a local administrator helps a person who lost their phone
(reset MFA with a reason, a temporary access pass, re-enrolment), sees it in
the person's events and the audit log; and can't reach another
organisation's people."""

from __future__ import annotations

import re
from typing import Callable

from playwright.sync_api import Page, expect

from harness import (
    ORG_CODE,
    Portal,
    error_summary,
    expect_my_profile,
    expect_path,
    go_to_method_choice,
    sign_in,
    sign_out,
)
from journeys import (
    ENROL_PATH,
    admin_with_an_app,
    enrol_authenticator_app,
    expect_the_method_added,
    find_user,
    open_user,
    sign_in_with_app,
)

PASS_SIGN_IN_PATH = "/sign-in/temporary-access-pass"
REASON = "Phone lost; identity checked by a call to the pharmacy"
OTHER_ORG = "FB456"
NOT_YOUR_ORGANISATION = "You can only manage the users of your own organisation"


def methods_table(page: Page):
    return page.get_by_role("main").get_by_role("table", name="Methods")


def events_table(page: Page):
    return page.get_by_role("main").get_by_role("table", name="Recent events")


def sign_in_with_a_pass(page: Page, portal: Portal, email: str, code: str) -> None:
    page.goto(portal.url("/sign-in"))
    page.get_by_role("link", name="Sign in with a temporary access pass", exact=True).click()
    expect_path(page, PASS_SIGN_IN_PATH)
    page.get_by_role("textbox", name="Email address", exact=True).fill(email)
    page.get_by_role("textbox", name="Temporary access pass", exact=True).fill(code)
    page.get_by_role("button", name="Sign in", exact=True).click()


def issue_a_pass(page: Page) -> str:
    """On a person's page: issue a pass for the default time; the code shown."""
    expect(page.get_by_role("textbox", name="How long it lasts, in minutes", exact=True)).to_have_value("60")
    page.get_by_role("button", name="Issue temporary access pass", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Temporary access pass for")
    code = page.locator("#temporary-access-pass").inner_text().strip()
    assert len(re.sub(r"[^A-Za-z0-9]", "", code)) >= 12, f"the pass is too short: {code!r}"
    return code


def test_a_local_admin_resets_mfa_and_issues_a_pass_and_the_person_enrols_a_new_app(
    portal: Portal, new_page: Callable[..., Page]
) -> None:
    ann = portal.user

    # Ann has an authenticator app on the phone she is about to lose.
    ann_page = new_page()
    sign_in(ann_page, portal)
    expect_my_profile(ann_page)
    go_to_method_choice(ann_page)
    enrol_authenticator_app(ann_page, "Old phone")
    expect_the_method_added(ann_page, "Old phone")
    sign_out(ann_page)

    # Her local administrator finds her, resets her MFA and issues a pass.
    admin_page = new_page()
    lou, _ = admin_with_an_app(admin_page, portal, "lou.admin@demo1.nhs.uk", "Lou Admin")
    admin_page.get_by_role("main").get_by_role("link", name="Find users", exact=True).click()
    expect_path(admin_page, "/admin/users")
    ann_path = open_user(admin_page, portal, "Ann", ann.name)
    expect(admin_page.get_by_role("main")).to_contain_text(ann.email)
    expect(methods_table(admin_page).get_by_role("row").filter(has_text="Old phone")).to_contain_text(
        "Authenticator app"
    )

    admin_page.get_by_role("textbox", name="Reason", exact=True).fill(REASON)
    admin_page.get_by_role("button", name="Reset MFA", exact=True).click()
    admin_page.get_by_role("button", name="Yes, reset their MFA", exact=True).click()
    expect_path(admin_page, ann_path)
    expect(admin_page.get_by_role("status")).to_contain_text("Their multi-factor authentication was reset")
    expect(methods_table(admin_page)).to_have_count(0)
    expect(admin_page.get_by_role("main")).to_contain_text("No methods set up.")

    code = issue_a_pass(admin_page)

    # Ann signs in with the pass: she can only enrol.
    sign_in_with_a_pass(ann_page, portal, ann.email, code)
    expect_path(ann_page, ENROL_PATH)
    expect(ann_page.get_by_role("main").get_by_role("link", name="Back to Self-Service")).to_have_count(0)
    for path in ("/profile", "/profile/self-service", "/profile/change-password", "/admin"):
        ann_page.goto(portal.url(path))
        expect_path(ann_page, ENROL_PATH)

    new_app = enrol_authenticator_app(ann_page, "New phone")
    expect(
        ann_page.get_by_role("heading", level=1, name="Multi-factor authentication is set up", exact=True)
    ).to_be_visible()
    expect(ann_page.get_by_role("main")).to_contain_text("Sign in again")
    ann_page.get_by_role("main").get_by_role("link", name="Sign in", exact=True).click()
    expect_path(ann_page, "/sign-in")

    # The pass is spent; her password and the new app get her in.
    sign_in_with_a_pass(ann_page, portal, ann.email, code)
    expect(error_summary(ann_page)).to_be_visible()
    sign_in_with_app(ann_page, portal, ann, new_app)
    expect_my_profile(ann_page)

    # The administrator sees the new app and what happened, on her page and in the audit log.
    admin_page.goto(portal.url(ann_path))
    expect(methods_table(admin_page).get_by_role("row").filter(has_text="New phone")).to_have_count(1)
    expect(methods_table(admin_page).get_by_role("row").filter(has_text="Old phone")).to_have_count(0)
    events = events_table(admin_page)
    for event in ("MFA reset", "Temporary access pass issued", "Temporary access pass used", "Method added"):
        expect(events.get_by_role("row").filter(has_text=event).first).to_be_visible()

    admin_page.goto(portal.url("/admin"))
    admin_page.get_by_role("main").get_by_role("link", name="Audit log", exact=True).click()
    expect_path(admin_page, "/admin/audit")
    admin_page.get_by_role("textbox", name="Email address", exact=True).fill(ann.email)
    admin_page.get_by_role("button", name="Filter", exact=True).click()
    log = admin_page.get_by_role("table", name="Events, newest first")
    reset = log.get_by_role("row").filter(has_text="MFA reset")
    expect(reset).to_have_count(1)
    expect(reset).to_contain_text(lou.email)
    expect(reset).to_contain_text(REASON)
    issued = log.get_by_role("row").filter(has_text="Temporary access pass issued")
    expect(issued).to_have_count(1)
    expect(issued).to_contain_text(lou.email)
    expect(log.get_by_role("row").filter(has_text="Temporary access pass used")).to_have_count(1)
    # The pass itself is never written down.
    expect(log).not_to_contain_text(code)


def test_a_local_admin_cannot_reach_another_organisations_people(
    portal: Portal, new_page: Callable[..., Page]
) -> None:
    portal.add_org(OTHER_ORG, "Other Practice")
    bob = portal.add_user("bob.other@fb456.nhs.uk", "Bob Other", org=OTHER_ORG)

    # A national administrator can find Bob: that gives the address of his page.
    national_page = new_page()
    admin_with_an_app(national_page, portal, "nat.admin@demo1.nhs.uk", "Nat Admin", role="national-admin")
    bob_path = open_user(national_page, portal, "Bob", bob.name)

    page = new_page()
    admin_with_an_app(page, portal, "lou.admin@demo1.nhs.uk", "Lou Admin", org=ORG_CODE)

    find_user(page, portal, "Bob")
    expect(page.get_by_role("main")).to_contain_text("No accounts match.")

    response = page.goto(portal.url(bob_path))
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1, name="You cannot do this", exact=True)).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(NOT_YOUR_ORGANISATION)
    expect(page.get_by_role("main")).not_to_contain_text(bob.email)

    # Nor by posting a form of her own organisation's kind at his address.
    page.goto(portal.url("/admin/users"))
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    for action, form in (
        ("reset-mfa", {"reason": "trying"}),
        ("temporary-access-pass", {"minutes": "60"}),
        ("disable", {}),
    ):
        answer = page.request.post(
            portal.url(f"{bob_path}/{action}"),
            form={"csrf_token": token, **form},
            headers={"Origin": portal.base_url},
            max_redirects=0,
        )
        assert answer.status == 403, f"{action}: {answer.status}"

    # Each refusal is in the audit log.
    national_page.goto(portal.url("/admin/audit?event=admin.denied"))
    denied = national_page.get_by_role("table", name="Events, newest first").get_by_role("row")
    expect(denied.filter(has_text="lou.admin@demo1.nhs.uk")).to_have_count(4)
