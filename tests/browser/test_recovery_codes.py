"""Recovery codes: made on Self-Service, shown once with a download and a
print button, and each usable once at the second step ("Sign in another way"
› "Use a recovery code") instead of the phone."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from harness import (
    Portal,
    error_summary,
    expect_my_profile,
    expect_path,
    next_message,
    sign_in,
    sign_out,
)
from journeys import (
    RECOVERY_CODES_PATH,
    USE_RECOVERY_CODE_PATH,
    VERIFY_PATH,
    create_recovery_codes,
    open_recovery_codes,
    open_use_a_recovery_code,
    submit_recovery_code,
    user_with_an_app,
)

CODES = 10
USED_OR_WRONG = "The recovery code is not correct, or it has been used. Check it and try again"
CODE_USED_EMAIL = "A recovery code was used to sign in to your NHSmal account"


def expect_a_set_of_codes(codes: list[str]) -> None:
    assert len(codes) == CODES, codes
    assert len(set(codes)) == CODES, f"the codes repeat: {codes}"
    for code in codes:
        # At least 10 characters of an alphabet without look-alikes (0/O, 1/I/L).
        characters = code.replace("-", "")
        assert len(characters) >= 10, code
        assert not re.search(r"[01OIL]", characters), f"{code} has a character easily misread"


def sign_in_with_a_recovery_code(page: Page, portal: Portal, code: str) -> None:
    sign_in(page, portal)
    open_use_a_recovery_code(page)
    submit_recovery_code(page, code)


def expect_the_code_used(page: Page, left: int) -> None:
    """"Recovery code used", saying how many are left; Continue leads on to
    My Profile."""
    expect(page.get_by_role("heading", level=1, name="Recovery code used", exact=True)).to_be_visible()
    expect(page.get_by_role("main")).to_contain_text(f"You have {left} recovery codes left")
    page.get_by_role("link", name="Continue", exact=True).click()
    expect_my_profile(page)


def expect_the_code_refused(page: Page, portal: Portal) -> None:
    expect(error_summary(page)).to_contain_text(USED_OR_WRONG)
    expect_path(page, USE_RECOVERY_CODE_PATH)
    # Still not signed in.
    page.goto(portal.url("/profile"))
    expect_path(page, VERIFY_PATH)


def test_a_person_creates_recovery_codes_and_signs_in_once_with_each(portal: Portal, page: Page) -> None:
    app = user_with_an_app(page, portal)
    open_recovery_codes(page, portal)
    expect(page.get_by_role("main")).to_contain_text("You have no recovery codes.")
    codes = create_recovery_codes(page, portal, app)
    expect_a_set_of_codes(codes)

    # A download of the codes as text, and a print button (JavaScript is on).
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the codes as a text file", exact=True).click()
    downloaded = open(download.value.path(), encoding="utf-8").read()
    for code in codes:
        assert code in downloaded, f"{code} is not in the download:\n{downloaded}"
    expect(page.get_by_role("button", name="Print the codes", exact=True)).to_be_visible()

    # Shown once: Recovery codes now only says how many there are.
    open_recovery_codes(page, portal)
    expect(page.locator("#recovery-codes code")).to_have_count(0)
    expect(page.get_by_role("main")).to_contain_text(f"You have {CODES} recovery codes left.")
    sign_out(page)

    before = len(portal.outbox())
    sign_in_with_a_recovery_code(page, portal, codes[0])
    expect_path(page, "/sign-in/recovery-code/used")
    email = next_message(portal, before, "email", to=portal.user.email)
    assert email["subject"] == CODE_USED_EMAIL, email
    expect_the_code_used(page, CODES - 1)
    sign_out(page)

    # The same code a second time is refused; another one works.
    sign_in_with_a_recovery_code(page, portal, codes[0])
    expect_the_code_refused(page, portal)
    open_use_a_recovery_code(page)
    # Typed in lower case and without its hyphen, as a person might.
    submit_recovery_code(page, codes[1].replace("-", "").lower())
    expect_the_code_used(page, CODES - 2)


def test_creating_new_recovery_codes_stops_the_old_ones_working(portal: Portal, page: Page) -> None:
    app = user_with_an_app(page, portal)
    old = create_recovery_codes(page, portal, app)
    open_recovery_codes(page, portal)
    expect(page.get_by_role("main")).to_contain_text("Creating new codes stops the old ones working.")
    new = create_recovery_codes(page, portal, app)
    expect_a_set_of_codes(new)
    assert not set(old) & set(new), f"a code is in both sets: {old} {new}"
    expect(page.get_by_role("main")).to_contain_text("Any earlier recovery codes no longer work.")
    sign_out(page)

    sign_in_with_a_recovery_code(page, portal, old[0])
    expect_the_code_refused(page, portal)
    open_use_a_recovery_code(page)
    submit_recovery_code(page, new[0])
    expect_the_code_used(page, CODES - 1)
    open_recovery_codes(page, portal)
    expect_path(page, RECOVERY_CODES_PATH)
    expect(page.get_by_role("main")).to_contain_text(f"You have {CODES - 1} recovery codes left.")
