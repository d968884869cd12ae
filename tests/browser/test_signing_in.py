"""Signing in, moving around a signed-in session, and signing out."""

import re

from playwright.sync_api import Page, expect

from harness import (
    ORG_NAME,
    Portal,
    error_summary,
    expect_path,
    header,
    open_profile_menu,
    sign_in,
    sign_in_form_fill,
    sign_out,
)

SIGN_IN_ERROR = "Enter a correct email address and password"


def expect_my_profile(page: Page, portal: Portal) -> None:
    user = portal.user
    expect_path(page, "/profile")
    expect(page.get_by_role("heading", level=1, name="My Profile", exact=True)).to_be_visible()
    main = page.get_by_role("main")
    expect(main).to_contain_text(user.name)
    expect(main).to_contain_text(user.email)
    expect(main).to_contain_text(ORG_NAME)
    # Regular expressions run on innerText, where separate elements ("Role",
    # "User") stay separate words; textContent would run them together.
    expect(main).to_contain_text(re.compile(r"\brole\b", re.I), use_inner_text=True)
    expect(main).to_contain_text(re.compile(r"\b(user|staff member)\b", re.I), use_inner_text=True)
    expect(main.get_by_role("link", name="Self-Service", exact=True)).to_be_visible()


def expect_self_service(page: Page) -> None:
    expect_path(page, "/profile/self-service")
    expect(page.get_by_role("heading", level=1, name="Self-Service", exact=True)).to_be_visible()
    main = page.get_by_role("main")
    # A new user has no methods yet; the exact words are the server's, so
    # accept any plain way of saying so.
    expect(main).to_contain_text(
        re.compile(
            r"(\bno\b|not any|haven.t|have not|none)[^.]{0,80}"
            r"(methods?|registered|set up|added|enrol)",
            re.I,
        ),
        use_inner_text=True,
    )
    expect(main.get_by_role("button", name="Self-enroll for MFA", exact=True)).to_be_visible()
    expect(main.get_by_role("link", name="Change password", exact=True)).to_be_visible()


def go_through_a_session(page: Page, portal: Portal) -> None:
    """Sign in from /, use the Profile menu to reach My Profile and then
    Self-Service, come back through the menu, and sign out."""
    page.goto(portal.url("/"))
    expect_path(page, "/sign-in")
    expect(page.get_by_role("link", name="Forgotten your password?", exact=True)).to_be_visible()

    sign_in_form_fill(page, portal.user.email, portal.user.password)
    expect_my_profile(page, portal)
    expect(header(page).get_by_role("link", name="Feedback", exact=True)).to_be_visible()

    open_profile_menu(page)
    page.get_by_role("link", name="My Profile", exact=True).click()
    expect_my_profile(page, portal)

    page.get_by_role("main").get_by_role("link", name="Self-Service", exact=True).click()
    expect_self_service(page)

    # The menu works from any signed-in page, not only from My Profile.
    open_profile_menu(page)
    page.get_by_role("link", name="My Profile", exact=True).click()
    expect_my_profile(page, portal)

    sign_out(page)
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()

    # The session is gone: a signed-in page sends the browser to sign in.
    page.goto(portal.url("/profile"))
    expect_path(page, "/sign-in")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()


def test_a_person_signs_in_and_reaches_self_service(portal: Portal, page: Page) -> None:
    go_through_a_session(page, portal)


def test_every_page_of_a_session_works_without_javascript(portal: Portal, new_page) -> None:
    page = new_page(java_script_enabled=False)
    go_through_a_session(page, portal)


def test_a_wrong_password_and_an_unknown_email_get_the_same_message(portal: Portal, page: Page) -> None:
    sign_in(page, portal, password="wrong horse battery staple 1")
    expect_path(page, "/sign-in")
    expect(error_summary(page)).to_be_visible()
    expect(error_summary(page)).to_contain_text(SIGN_IN_ERROR)
    after_wrong_password = error_summary(page).inner_text()

    page.goto(portal.url("/sign-in"))
    expect(error_summary(page)).to_have_count(0)
    sign_in_form_fill(page, "nobody.here@demo1.nhs.uk", portal.user.password)
    expect_path(page, "/sign-in")
    expect(error_summary(page)).to_be_visible()
    expect(error_summary(page)).to_contain_text(SIGN_IN_ERROR)
    after_unknown_email = error_summary(page).inner_text()

    assert after_wrong_password == after_unknown_email, (
        "a wrong password and an unknown email must be indistinguishable:\n"
        f"wrong password: {after_wrong_password!r}\nunknown email: {after_unknown_email!r}"
    )

    page.goto(portal.url("/profile"))
    expect_path(page, "/sign-in")


def test_a_disabled_account_is_told_it_is_disabled(portal: Portal, page: Page) -> None:
    result = portal.cli("user", "disable", portal.user.email)
    assert result.returncode == 0, f"user disable failed: {result.stderr}"

    # Without the right password nothing about the account is given away.
    sign_in(page, portal, password="wrong horse battery staple 1")
    expect(error_summary(page)).to_contain_text(SIGN_IN_ERROR)
    expect(page.locator("body")).not_to_contain_text(re.compile("disabled", re.I), use_inner_text=True)

    # With it, the person learns why they can't get in.
    sign_in(page, portal)
    expect(page.locator("body")).to_contain_text(re.compile("disabled", re.I), use_inner_text=True)

    page.goto(portal.url("/profile"))
    expect_path(page, "/sign-in")


def test_signing_out_ends_the_session_on_the_server_too(portal: Portal, page: Page, new_page) -> None:
    sign_in(page, portal)
    expect_path(page, "/profile")
    cookies_while_signed_in = page.context.cookies()

    sign_out(page)

    # Someone who kept a copy of the session cookie gets nowhere with it.
    replay = new_page()
    replay.context.add_cookies(cookies_while_signed_in)
    replay.goto(portal.url("/profile"))
    expect_path(replay, "/sign-in")
