"""axe-core finds no WCAG 2.2 A/AA or best-practice violation on any page."""

import re
from typing import Callable

import pytest
from playwright.sync_api import Page, expect

from harness import (
    Portal,
    axe,
    error_summary,
    expect_path,
    header,
    open_profile_menu,
    sign_in,
)


def signed_in(page: Page, portal: Portal) -> None:
    sign_in(page, portal)
    expect_path(page, "/profile")


def sign_in_page(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/sign-in"))
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()


def sign_in_page_with_an_error(page: Page, portal: Portal) -> None:
    sign_in(page, portal, password="wrong horse battery staple 1")
    expect(error_summary(page)).to_be_visible()


def forgotten_password(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/sign-in"))
    page.get_by_role("link", name="Forgotten your password?", exact=True).click()
    # Only that the page opened; its form is the forgotten-password flow's
    # business, not this test's.
    expect(page).not_to_have_url(re.compile(r"/sign-in(\?.*)?$"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def my_profile(page: Page, portal: Portal) -> None:
    signed_in(page, portal)
    expect(page.get_by_role("heading", level=1, name="My Profile", exact=True)).to_be_visible()


def my_profile_with_the_menu_open(page: Page, portal: Portal) -> None:
    signed_in(page, portal)
    open_profile_menu(page)


def self_service(page: Page, portal: Portal) -> None:
    signed_in(page, portal)
    page.get_by_role("main").get_by_role("link", name="Self-Service", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Self-Service", exact=True)).to_be_visible()


def change_password(page: Page, portal: Portal) -> None:
    self_service(page, portal)
    page.get_by_role("main").get_by_role("link", name="Change password", exact=True).click()
    expect_path(page, "/profile/change-password")
    expect(page.get_by_role("button", name="Change password", exact=True)).to_be_visible()


def feedback(page: Page, portal: Portal) -> None:
    signed_in(page, portal)
    header(page).get_by_role("link", name="Feedback", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("feedback", re.I))


def profile_menu_page(page: Page, portal: Portal) -> None:
    """The menu as a page of its own, where "Profile" leads without JavaScript."""
    signed_in(page, portal)
    page.goto(portal.url("/profile/menu"))
    expect(page.get_by_role("heading", level=1, name="Profile", exact=True)).to_be_visible()


def change_password_with_errors(page: Page, portal: Portal) -> None:
    change_password(page, portal)
    page.get_by_role("button", name="Change password", exact=True).click()
    expect(error_summary(page)).to_be_visible()


def accessibility_statement(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/sign-in"))
    page.get_by_role("link", name="Accessibility statement", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Accessibility statement", exact=True)).to_be_visible()


def page_not_found(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/no-such-page"))
    expect(page.get_by_role("heading", level=1, name="Page not found", exact=True)).to_be_visible()


PAGES: dict[str, Callable[[Page, Portal], None]] = {
    "profile menu page": profile_menu_page,
    "change password with errors": change_password_with_errors,
    "accessibility statement": accessibility_statement,
    "page not found": page_not_found,
    "sign-in": sign_in_page,
    "sign-in with an error": sign_in_page_with_an_error,
    "forgotten password": forgotten_password,
    "my profile": my_profile,
    "my profile with the profile menu open": my_profile_with_the_menu_open,
    "self-service": self_service,
    "change password": change_password,
    "feedback": feedback,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_the_page_has_no_accessibility_violations(name: str, portal: Portal, page: Page) -> None:
    PAGES[name](page, portal)
    axe(page, name)
