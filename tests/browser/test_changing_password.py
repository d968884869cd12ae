"""Changing one's password from Self-Service."""

from playwright.sync_api import Page, expect

from harness import (
    PASSWORD,
    Portal,
    error_summary,
    expect_path,
    header,
    path_of,
    sign_in,
    sign_out,
)

NEW_PASSWORD = "another long passphrase 42"
WEAK_PASSWORD = "password1"
SIGN_IN_ERROR = "Enter a correct email address and password"


def open_change_password(page: Page, portal: Portal) -> None:
    sign_in(page, portal)
    expect_path(page, "/profile")
    page.get_by_role("main").get_by_role("link", name="Self-Service", exact=True).click()
    expect_path(page, "/profile/self-service")
    page.get_by_role("main").get_by_role("link", name="Change password", exact=True).click()
    expect_path(page, "/profile/change-password")


def submit_change(page: Page, current: str, new: str, confirm: str) -> None:
    page.get_by_label("Current password", exact=True).fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("Confirm new password", exact=True).fill(confirm)
    with page.expect_navigation():
        page.get_by_role("button", name="Change password", exact=True).click()
    page.wait_for_load_state("load")


def make_sure_signed_out(page: Page, portal: Portal) -> None:
    """Sign out through the header if the session survived the change (the
    server may also end every session when the password changes)."""
    page.goto(portal.url("/profile"))
    if path_of(page) != "/sign-in":
        sign_out(page)


def expect_sign_in_refused(page: Page, portal: Portal, password: str) -> None:
    sign_in(page, portal, password=password)
    expect(error_summary(page)).to_contain_text(SIGN_IN_ERROR)
    expect_path(page, "/sign-in")


def expect_sign_in_works(page: Page, portal: Portal, password: str) -> None:
    sign_in(page, portal, password=password)
    expect_path(page, "/profile")
    expect(page.get_by_role("heading", level=1, name="My Profile", exact=True)).to_be_visible()


def test_a_person_changes_their_password_and_signs_in_with_the_new_one(portal: Portal, page: Page) -> None:
    open_change_password(page, portal)
    submit_change(page, PASSWORD, NEW_PASSWORD, NEW_PASSWORD)
    # Where the server goes next (a confirmation, Self-Service, or the
    # sign-in page if it ends every session) is its choice; it mustn't be an
    # error. The proof is that only the new password now works.
    expect(error_summary(page)).to_have_count(0)

    make_sure_signed_out(page, portal)
    expect_sign_in_refused(page, portal, PASSWORD)
    expect_sign_in_works(page, portal, NEW_PASSWORD)
    expect(header(page).get_by_role("link", name="Feedback", exact=True)).to_be_visible()


def test_a_weak_new_password_is_refused_and_the_old_one_still_works(portal: Portal, page: Page) -> None:
    open_change_password(page, portal)
    submit_change(page, PASSWORD, WEAK_PASSWORD, WEAK_PASSWORD)
    expect(error_summary(page)).to_be_visible()
    expect(page.get_by_label("New password", exact=True)).to_be_visible()

    make_sure_signed_out(page, portal)
    expect_sign_in_refused(page, portal, WEAK_PASSWORD)
    expect_sign_in_works(page, portal, PASSWORD)
