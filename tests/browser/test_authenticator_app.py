"""Self-enrolment of an authenticator app (TOTP), and the second step at sign-in.

The codes come from an independent TOTP implementation (pyotp), keyed with
the secret read back from the QR code on the setup page (decoded with
zxing-cpp from a screenshot), as a person's phone would get it.
"""

from __future__ import annotations

import io
import json
import re
import time
from typing import Callable

import pyotp
import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from harness import (
    Portal,
    axe,
    error_summary,
    expect_my_profile,
    expect_path,
    go_to_method_choice,
    open_method_choice,
    sign_in,
    sign_out,
)

SETUP_PATH = "/profile/self-service/enrol/authenticator-app"
VERIFY_PATH = "/sign-in/verify"
ANOTHER_WAY_PATH = "/sign-in/another-way"
METHODS = ["Authenticator app", "Text message", "Phone call", "Passkey", "FIDO2 token"]
WRONG_CODE_ERROR = "The code is not correct. Check it and try again"
NO_CHOICE_ERROR = "Select how you want to prove it is you"
APP_NAME = "Work phone"
TOTP_STEP_S = 30


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def decode_qr(image: Locator) -> str:
    """The text of the one QR code in a screenshot of `image`."""
    shot = Image.open(io.BytesIO(image.screenshot()))
    found = [r for r in zxingcpp.read_barcodes(shot) if r.format == zxingcpp.BarcodeFormat.QRCode]
    assert len(found) == 1, f"expected one QR code in the image, found {len(found)}"
    return found[0].text


def wait_for_the_step_after(moment: float) -> None:
    """Sleep until the TOTP step after the one holding `moment` has begun: the
    server refuses a code from a step it has already accepted."""
    remaining = (int(moment // TOTP_STEP_S) + 1) * TOTP_STEP_S - time.time()
    assert remaining <= TOTP_STEP_S
    if remaining > 0:
        time.sleep(remaining)


def a_wrong_code(totp: pyotp.TOTP) -> str:
    """Six digits that are not the code of any step near now."""
    now = time.time()
    near = {totp.at(now + k * TOTP_STEP_S) for k in range(-3, 4)}
    return next(c for c in (str(d) * 6 for d in range(10)) if c not in near)


def emails_to(portal: Portal, address: str) -> list[dict]:
    outbox = portal.data_dir / "outbox.jsonl"
    if not outbox.exists():
        return []
    messages = [json.loads(line) for line in outbox.read_text().splitlines() if line.strip()]
    return [m for m in messages if m.get("channel") == "email" and m.get("to") == address]


def expect_one_email_to(portal: Portal, address: str) -> None:
    deadline = time.monotonic() + 5
    while not emails_to(portal, address) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(emails_to(portal, address)) == 1, (
        f"expected one email to {address} in {portal.data_dir / 'outbox.jsonl'}, "
        f"found {emails_to(portal, address)}"
    )


def expect_the_method_choice(page: Page) -> None:
    radios = page.get_by_role("main").get_by_role("radio")
    expect(radios).to_have_count(len(METHODS))
    for i, name in enumerate(METHODS):
        expect(radios.nth(i)).to_have_accessible_name(name)
    expect(radios.nth(0)).to_have_accessible_description(re.compile(r"^Recommended"))
    expect(page.get_by_role("button", name="Continue", exact=True)).to_be_visible()


def open_authenticator_app_setup(page: Page, portal: Portal, signed_in: bool = False) -> None:
    if signed_in:
        go_to_method_choice(page)
    else:
        open_method_choice(page, portal)
    page.get_by_role("radio", name="Authenticator app", exact=True).check()
    page.get_by_role("button", name="Continue", exact=True).click()
    expect_path(page, SETUP_PATH)
    expect(page.get_by_role("heading", level=1, name="Set up an authenticator app", exact=True)).to_be_visible()


def key_shown(page: Page) -> str:
    """The key as the page shows it for typing in, without its spaces."""
    text = page.locator("#totp-secret").inner_text().strip()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4})*( [A-Z2-7]{1,4})?", text), (
        f"#totp-secret is not base32 in groups of 4: {text!r}"
    )
    return text.replace(" ", "")


def submit_code(page: Page, code: str, name: str | None = None) -> None:
    page.get_by_role("textbox", name="Verification code", exact=True).fill(code)
    if name is not None:
        page.get_by_role("textbox", name="Name for this app (optional)", exact=True).fill(name)
    page.get_by_role("button", name="Verify", exact=True).click()


def expect_the_method_listed(page: Page, name: str) -> None:
    expect_path(page, "/profile/self-service")
    main = page.get_by_role("main")
    expect(main.get_by_text(re.compile(r"^Your new sign-in method has been added"))).to_be_visible()
    row = main.get_by_role("table").get_by_role("row").filter(has_text=name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Authenticator app")
    expect(row.get_by_text("Default", exact=True)).to_be_visible()


def enrol(
    page: Page, portal: Portal, name: str = APP_NAME, signed_in: bool = False
) -> tuple[pyotp.TOTP, float]:
    """Sign in (unless `signed_in`) and enrol an authenticator app with the
    key shown as text; the TOTP and the moment whose code was used."""
    open_authenticator_app_setup(page, portal, signed_in)
    totp = pyotp.TOTP(key_shown(page))
    used_at = time.time()
    submit_code(page, totp.at(used_at), name)
    expect_the_method_listed(page, name)
    return totp, used_at


def expect_the_second_step(page: Page) -> None:
    expect_path(page, VERIFY_PATH)
    expect(
        page.get_by_role("heading", level=1, name="Enter the code from your authenticator app", exact=True)
    ).to_be_visible()
    expect(page.get_by_role("textbox", name="Verification code", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Verify", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Sign in another way", exact=True)).to_be_visible()


def enrol_and_sign_in_with_the_app(page: Page, portal: Portal) -> None:
    email = portal.user.email
    open_method_choice(page, portal)
    expect_the_method_choice(page)

    page.get_by_role("radio", name="Authenticator app", exact=True).check()
    page.get_by_role("button", name="Continue", exact=True).click()
    expect_path(page, SETUP_PATH)
    expect(page.get_by_role("heading", level=1, name="Set up an authenticator app", exact=True)).to_be_visible()

    qr = page.get_by_role("main").get_by_role("img", name=re.compile(r"QR code", re.I))
    expect(qr).to_have_count(1)
    expect(qr).to_have_class(re.compile(r"\bportal-qr\b"))
    uri = decode_qr(qr)
    key = key_shown(page)
    assert uri == f"otpauth://totp/NHSmal:{email}?secret={key}&issuer=NHSmal"
    totp = pyotp.parse_uri(uri)
    assert isinstance(totp, pyotp.TOTP) and totp.secret == key
    assert (totp.digits, totp.interval, totp.issuer) == (6, TOTP_STEP_S, "NHSmal")

    used_at = time.time()
    submit_code(page, totp.at(used_at), APP_NAME)
    expect_the_method_listed(page, APP_NAME)
    expect_one_email_to(portal, email)

    sign_out(page)
    sign_in(page, portal)
    expect_the_second_step(page)
    wait_for_the_step_after(used_at)
    submit_code(page, totp.now())
    expect_my_profile(page)


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_a_person_enrols_an_authenticator_app_and_signs_in_with_it(portal: Portal, page: Page) -> None:
    enrol_and_sign_in_with_the_app(page, portal)


def test_a_person_without_javascript_enrols_an_authenticator_app_and_signs_in_with_it(
    portal: Portal, new_page: Callable[..., Page]
) -> None:
    enrol_and_sign_in_with_the_app(new_page(java_script_enabled=False), portal)


def test_continuing_without_choosing_a_method_asks_for_one(portal: Portal, page: Page) -> None:
    open_method_choice(page, portal)
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(error_summary(page)).to_contain_text(NO_CHOICE_ERROR)
    expect_the_method_choice(page)


def test_a_wrong_code_is_refused_at_enrolment_and_at_sign_in(portal: Portal, page: Page) -> None:
    email = portal.user.email
    open_authenticator_app_setup(page, portal)
    key = key_shown(page)
    totp = pyotp.TOTP(key)

    submit_code(page, a_wrong_code(totp), APP_NAME)
    expect(error_summary(page)).to_contain_text(WRONG_CODE_ERROR)
    expect_path(page, SETUP_PATH)
    # The app the person has just set up keeps working: the key stays the same.
    assert key_shown(page) == key

    # Nothing was saved: no method, no email, and signing in needs no second step.
    page.goto(portal.url("/profile/self-service"))
    expect(page.get_by_role("main").get_by_role("table")).to_have_count(0)
    assert emails_to(portal, email) == []
    sign_out(page)
    sign_in(page, portal)
    expect_my_profile(page)

    totp, _ = enrol(page, portal, signed_in=True)
    sign_out(page)
    sign_in(page, portal)
    expect_the_second_step(page)
    submit_code(page, a_wrong_code(totp))
    expect(error_summary(page)).to_contain_text(WRONG_CODE_ERROR)
    expect_path(page, VERIFY_PATH)
    page.goto(portal.url("/profile"))
    expect_path(page, VERIFY_PATH)


def test_the_second_step_cannot_be_skipped(portal: Portal, page: Page) -> None:
    enrol(page, portal)
    sign_out(page)
    sign_in(page, portal)
    expect_the_second_step(page)
    for path in ("/profile", "/profile/self-service", SETUP_PATH):
        page.goto(portal.url(path))
        expect_path(page, VERIFY_PATH)


def test_sign_in_another_way_lists_the_persons_methods(portal: Portal, page: Page) -> None:
    enrol(page, portal)
    sign_out(page)
    sign_in(page, portal)
    expect_the_second_step(page)
    page.get_by_role("link", name="Sign in another way", exact=True).click()
    expect_path(page, ANOTHER_WAY_PATH)
    method = page.get_by_role("main").get_by_role("link", name=re.compile(re.escape(APP_NAME)))
    expect(method).to_have_count(1)
    method.click()
    expect_the_second_step(page)


# --------------------------------------------------------------------------
# Accessibility: each page of the feature, in each state, from a fresh portal
# --------------------------------------------------------------------------


def method_choice(page: Page, portal: Portal) -> None:
    open_method_choice(page, portal)


def method_choice_with_its_error(page: Page, portal: Portal) -> None:
    open_method_choice(page, portal)
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(error_summary(page)).to_contain_text(NO_CHOICE_ERROR)


def setup(page: Page, portal: Portal) -> None:
    open_authenticator_app_setup(page, portal)


def setup_with_a_wrong_code(page: Page, portal: Portal) -> None:
    open_authenticator_app_setup(page, portal)
    submit_code(page, a_wrong_code(pyotp.TOTP(key_shown(page))))
    expect(error_summary(page)).to_contain_text(WRONG_CODE_ERROR)


def self_service_listing_a_method(page: Page, portal: Portal) -> None:
    enrol(page, portal)


def at_the_second_step(page: Page, portal: Portal) -> pyotp.TOTP:
    totp, _ = enrol(page, portal)
    sign_out(page)
    sign_in(page, portal)
    expect_the_second_step(page)
    return totp


def second_step(page: Page, portal: Portal) -> None:
    at_the_second_step(page, portal)


def second_step_with_an_error(page: Page, portal: Portal) -> None:
    totp = at_the_second_step(page, portal)
    submit_code(page, a_wrong_code(totp))
    expect(error_summary(page)).to_contain_text(WRONG_CODE_ERROR)


def sign_in_another_way(page: Page, portal: Portal) -> None:
    at_the_second_step(page, portal)
    page.get_by_role("link", name="Sign in another way", exact=True).click()
    expect_path(page, ANOTHER_WAY_PATH)


def rename(page: Page, portal: Portal) -> None:
    enrol(page, portal)
    page.get_by_role("main").get_by_role("link", name=f"Rename {APP_NAME}", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile(r"rename", re.I))


def remove_confirmation(page: Page, portal: Portal) -> None:
    # Sign in with the app first: removing a method asks for a fresh second step.
    totp, used_at = enrol(page, portal)
    sign_out(page)
    sign_in(page, portal)
    expect_the_second_step(page)
    wait_for_the_step_after(used_at)
    submit_code(page, totp.now())
    expect_my_profile(page)
    page.get_by_role("main").get_by_role("link", name="Self-Service", exact=True).click()
    page.get_by_role("main").get_by_role("link", name=f"Remove {APP_NAME}", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile(r"remove", re.I))
    expect(page.get_by_role("button", name="Remove", exact=True)).to_be_visible()


PAGES: dict[str, Callable[[Page, Portal], None]] = {
    "method choice": method_choice,
    "method choice with its error": method_choice_with_its_error,
    "authenticator-app setup": setup,
    "authenticator-app setup with a wrong code": setup_with_a_wrong_code,
    "self-service listing a method": self_service_listing_a_method,
    "second step": second_step,
    "second step with an error": second_step_with_an_error,
    "sign in another way": sign_in_another_way,
    "rename": rename,
    "remove confirmation": remove_confirmation,
}


@pytest.mark.parametrize("name", list(PAGES))
def test_each_authenticator_app_page_has_no_accessibility_violations(name: str, portal: Portal, page: Page) -> None:
    PAGES[name](page, portal)
    axe(page, name)
