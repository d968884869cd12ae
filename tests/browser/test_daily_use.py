"""What a new user tripped over in daily use (issue 20), each tried as they
met it: a right code used twice, the warning before the lock, an error
summary that keyboard users start on, every password problem at once, times
in UK time, a confirmation before an administrator resets someone's MFA, the
profile menu beside its toggle, and the prompt for a backup method."""

from __future__ import annotations

import re
from typing import Callable

from playwright.sync_api import Page, expect

from harness import Portal, axe, error_summary, expect_path, header, sign_in, sign_out
from journeys import (
    TOTP_STEP_S,
    VERIFY_PATH,
    admin_with_an_app,
    open_user,
    prove_it_is_you,
    user_with_an_app,
)


def code_field(page: Page):
    return page.get_by_role("textbox", name="Verification code", exact=True)


def test_a_right_code_used_twice_says_so_and_does_not_count_toward_the_lock(
    portal: Portal, page: Page, new_page: Callable[..., Page]
) -> None:
    app = user_with_an_app(page, portal)
    sign_out(page)
    # Signing in, then again in a second browser within the same 30 s.
    sign_in(page, portal)
    prove_it_is_you(page, app)
    expect_path(page, "/profile")
    used = app.totp.at(app.last_step * TOTP_STEP_S)
    second = new_page()
    sign_in(second, portal)
    expect_path(second, VERIFY_PATH)
    for _ in range(12):  # more than the lock allows (10): none is counted
        code_field(second).fill(used)
        second.get_by_role("button", name="Verify", exact=True).click()
        expect(second.get_by_role("main")).to_contain_text(
            "This code has been used. Wait for the next code to show in your app, then enter it"
        )
    expect(second.get_by_role("main")).not_to_contain_text("tries before you must wait")
    # The next code still signs in: nothing was locked.
    prove_it_is_you(second, app)
    expect_path(second, "/profile")


def test_wrong_codes_warn_how_many_tries_are_left_before_the_lock(portal: Portal, page: Page) -> None:
    app = user_with_an_app(page, portal)
    sign_out(page)
    sign_in(page, portal)
    expect_path(page, VERIFY_PATH)
    wrong = "000000" if app.totp.now() != "000000" else "111111"
    seen = []
    for _ in range(9):
        code_field(page).fill(wrong)
        page.get_by_role("button", name="Verify", exact=True).click()
        seen.append(page.locator("#code-error").inner_text())
    assert all("The code is not correct" in s for s in seen), seen
    assert not any("tries" in s for s in seen[:6]), seen[:6]
    assert "You have 3 more tries before you must wait" in seen[6], seen[6]
    assert "You have 2 more tries before you must wait" in seen[7], seen[7]
    assert "You have 1 more try before you must wait" in seen[8], seen[8]
    # The tenth is the last: the page says the account is locked, and until when, in UK time.
    code_field(page).fill(wrong)
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Too many attempts", exact=True)).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(re.compile(r"locked until \d{1,2} \w+ \d{4} at .+ \(UK time\)"))
    help_link = page.get_by_role("link", name=re.compile("^Help: "))
    help_link.click()
    expect(page.get_by_role("heading", level=1, name="Why was my code not accepted?", exact=True)).to_be_visible()


def test_the_error_summary_has_the_focus_when_the_page_opens(portal: Portal, page: Page) -> None:
    sign_in(page, portal, password="wrong horse battery staple 1")
    summary = error_summary(page)
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    # Its link moves the focus to the field in error.
    summary.get_by_role("link").first.click()
    focused_id = page.evaluate("document.activeElement && document.activeElement.id")
    assert focused_id in ("email", "password"), focused_id


def test_change_password_shows_every_problem_at_once(portal: Portal, page: Page) -> None:
    sign_in(page, portal)
    page.goto(portal.url("/profile/change-password"))
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("Confirm new password", exact=True).fill("different")
    page.get_by_role("button", name="Change password", exact=True).click()
    summary = error_summary(page)
    expect(summary.get_by_role("link")).to_have_count(3)
    expect(summary).to_contain_text("Enter your current password")
    expect(summary).to_contain_text("Password must be")
    expect(summary).to_contain_text("Passwords do not match")
    axe(page, "change password with every error")


def test_times_are_shown_in_uk_time(portal: Portal, page: Page) -> None:
    user_with_an_app(page, portal)
    page.goto(portal.url("/profile/activity"))
    expect(page.get_by_role("main")).to_contain_text("(UK time)")
    expect(page.get_by_role("main")).not_to_contain_text("UTC")


def test_an_administrator_confirms_before_an_mfa_reset(portal: Portal, page: Page) -> None:
    person = user_with_an_app(page, portal, "Their phone")
    sign_out(page)
    admin_with_an_app(page, portal, "la.example@demo1.nhs.uk", "Lou Admin")
    open_user(page, portal, portal.user.email, portal.user.name)
    page.get_by_role("textbox", name="Reason", exact=True).fill("Phone lost, checked by a call to the practice")
    page.get_by_role("button", name="Reset MFA", exact=True).click()
    heading = f"Reset {portal.user.name}'s MFA?"
    expect(page.get_by_role("heading", level=1, name=heading, exact=True)).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text("Their phone")
    axe(page, "confirm an mfa reset")
    # Going back changes nothing.
    page.get_by_role("link", name=f"No, go back to {portal.user.name}", exact=True).click()
    expect(page.get_by_role("table", name="Methods")).to_contain_text("Their phone")
    page.get_by_role("textbox", name="Reason", exact=True).fill("Phone lost, checked by a call to the practice")
    page.get_by_role("button", name="Reset MFA", exact=True).click()
    page.get_by_role("button", name="Yes, reset their MFA", exact=True).click()
    expect(page.get_by_role("main")).to_contain_text("Their multi-factor authentication was reset")
    expect(page.locator("#no-methods")).to_be_visible()
    del person


def test_the_open_profile_menu_leaves_its_toggle_visible(portal: Portal, page: Page) -> None:
    sign_in(page, portal)
    toggle = header(page).get_by_role("button", name="Profile", exact=True)
    toggle.click()
    menu = page.locator("#profile-menu")
    expect(menu).to_be_visible()
    t, m = toggle.bounding_box(), menu.bounding_box()
    assert t and m
    assert m["y"] >= t["y"] + t["height"] - 1, f"the menu {m} covers its toggle {t}"
    # The toggle still closes it, with a pointer.
    toggle.click()
    expect(menu).to_be_hidden()


def test_after_the_first_method_the_person_is_asked_to_add_a_backup(portal: Portal, page: Page) -> None:
    user_with_an_app(page, portal)
    main = page.get_by_role("main")
    expect(main).to_contain_text("Add a second method or create recovery codes")
    expect(main.get_by_role("link", name="Create recovery codes", exact=True)).to_be_visible()
    axe(page, "self-service after the first method")


def test_the_step_up_before_the_admin_area_says_why_in_the_words_of_the_admin_area(
    portal: Portal, page: Page
) -> None:
    admin = portal.add_user("la.example@demo1.nhs.uk", "Lou Admin", role="local-admin")
    sign_in(page, portal, admin)
    from harness import go_to_method_choice
    from journeys import enrol_authenticator_app

    go_to_method_choice(page)
    enrol_authenticator_app(page, "Admin phone")
    page.get_by_role("banner").get_by_role("link", name="Admin", exact=True).click()
    expect_path(page, VERIFY_PATH)
    expect(page.get_by_role("main")).to_contain_text("To open the admin area, prove it is you again.")
    expect(page.get_by_role("main")).not_to_contain_text("security info")


def test_a_refusal_links_to_the_help_for_it_not_only_the_home_page(portal: Portal, page: Page) -> None:
    admin = portal.add_user("la.example@demo1.nhs.uk", "Lou Admin", role="local-admin")
    sign_in(page, portal, admin)
    response = page.goto(portal.url("/admin"))
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1, name="You cannot do this", exact=True)).to_be_visible()
    page.get_by_role("link", name=re.compile("^Help: Which method should I choose")).click()
    expect(page.get_by_role("heading", level=1, name="Which method should I choose?", exact=True)).to_be_visible()


def test_the_accessibility_statement_says_what_was_tested_the_known_issues_and_how_to_complain(
    portal: Portal, page: Page
) -> None:
    page.goto(portal.url("/accessibility"))
    main = page.get_by_role("main")
    for heading in ("How accessible this service is", "Feedback and contact information",
                    "Enforcement procedure", "How we tested this service"):
        expect(main.get_by_role("heading", level=2, name=heading, exact=True)).to_be_visible()
    expect(page.locator("#known-issues li")).not_to_have_count(0)
    expect(page.locator("#how-tested")).to_contain_text("320 pixels")
    expect(main.get_by_role("link", name="Equality Advisory and Support Service (EASS)", exact=True)).to_be_visible()
