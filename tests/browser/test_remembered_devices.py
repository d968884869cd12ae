"""Remembered devices: "Don't ask again on this device for 30 days" at the
second step lets that browser sign in with the password alone; other
browsers are still asked; forgetting the device on Self-Service, or changing
the password, brings the second step back. Administrators are not offered it
unless the policy says so."""

from __future__ import annotations

import dataclasses
import re
from typing import Callable

from playwright.sync_api import Page, expect

from harness import (
    PASSWORD,
    Portal,
    expect_my_profile,
    expect_path,
    sign_in,
    sign_out,
)
from journeys import (
    REMEMBER_THIS_DEVICE,
    VERIFY_PATH,
    admin_with_an_app,
    remember_this_device,
    user_with_an_app,
)

NEW_PASSWORD = "another long passphrase 42"


def expect_asked_for_the_second_step(page: Page, offered: bool = True) -> None:
    expect_path(page, VERIFY_PATH)
    expect(page.get_by_role("textbox", name="Verification code", exact=True)).to_be_visible()
    expect(page.get_by_role("checkbox", name=REMEMBER_THIS_DEVICE, exact=True)).to_have_count(1 if offered else 0)


def signed_in_on_a_remembered_device(page: Page, portal: Portal) -> None:
    """portal.user enrols an app, signs out, signs in ticking "Don't ask
    again", and is left signed in on My Profile."""
    app = user_with_an_app(page, portal)
    sign_out(page)
    sign_in(page, portal)
    expect_asked_for_the_second_step(page)
    remember_this_device(page, app)
    expect_my_profile(page)


def expect_signed_in_without_the_second_step(page: Page, portal: Portal) -> None:
    sign_in(page, portal)
    expect_my_profile(page)


def remembered_devices(page: Page):
    return page.get_by_role("table", name="Remembered devices").get_by_role("row")


def open_self_service(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/profile/self-service"))
    expect(page.get_by_role("heading", level=1, name="Self-Service", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", level=3, name="Remembered devices", exact=True)).to_be_visible()


def test_a_remembered_device_signs_in_without_the_second_step_and_another_browser_is_still_asked(
    portal: Portal, page: Page, new_page: Callable[..., Page]
) -> None:
    signed_in_on_a_remembered_device(page, portal)
    sign_out(page)
    expect_signed_in_without_the_second_step(page, portal)

    other = new_page()
    sign_in(other, portal)
    expect_asked_for_the_second_step(other)


def test_forget_all_devices_brings_the_second_step_back(portal: Portal, page: Page) -> None:
    signed_in_on_a_remembered_device(page, portal)
    open_self_service(page, portal)
    expect(remembered_devices(page)).to_have_count(2)  # a header row and this browser
    page.get_by_role("button", name="Forget all devices", exact=True).click()
    expect_path(page, "/profile/self-service")
    expect(page.get_by_role("table", name="Remembered devices")).to_have_count(0)
    expect(page.get_by_role("main")).to_contain_text("No device is remembered.")

    sign_out(page)
    sign_in(page, portal)
    expect_asked_for_the_second_step(page)


def test_forgetting_the_device_on_its_row_brings_the_second_step_back(portal: Portal, page: Page) -> None:
    signed_in_on_a_remembered_device(page, portal)
    open_self_service(page, portal)
    forget = page.get_by_role("table", name="Remembered devices").get_by_role("button", name=re.compile(r"^Forget "))
    expect(forget).to_have_count(1)
    expect(forget).to_have_text("Forget")
    forget.click()
    expect(page.get_by_role("table", name="Remembered devices")).to_have_count(0)

    sign_out(page)
    sign_in(page, portal)
    expect_asked_for_the_second_step(page)


def test_changing_the_password_voids_the_remembered_device(portal: Portal, page: Page) -> None:
    signed_in_on_a_remembered_device(page, portal)
    page.goto(portal.url("/profile/self-service"))
    page.get_by_role("main").get_by_role("link", name="Change password", exact=True).click()
    expect_path(page, "/profile/change-password")
    page.get_by_label("Current password", exact=True).fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password", exact=True).click()
    # This browser stays signed in, on a new session.
    expect_path(page, "/profile/self-service")
    expect(page.get_by_role("table", name="Remembered devices")).to_have_count(0)
    sign_out(page)

    portal.user = dataclasses.replace(portal.user, password=NEW_PASSWORD)
    sign_in(page, portal)
    expect_asked_for_the_second_step(page)


def test_administrators_are_not_offered_to_have_a_device_remembered(portal: Portal, page: Page) -> None:
    admin, _ = admin_with_an_app(page, portal, "lou.admin@demo1.nhs.uk", "Lou Admin")
    sign_out(page)
    sign_in(page, portal, admin)
    expect_asked_for_the_second_step(page, offered=False)
