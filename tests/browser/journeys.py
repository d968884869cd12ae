"""Steps shared by the rollout, admin, feedback, regaining-access and
accessibility tests: an authenticator app that never needs to wait for the
next 30-second step, enrolling it, signing in with it, administrators with
one, rollout dates relative to today (the server runs on the real clock),
and the steps of a password reset, recovery codes and remembered devices.
"""

from __future__ import annotations

import datetime
import re
import time

import pyotp
from playwright.sync_api import Page, expect

from harness import Portal, User, expect_path, go_to_method_choice, sign_in

TOTP_STEP_S = 30
VERIFY_PATH = "/sign-in/verify"
ENROL_PATH = "/profile/self-service/enrol"
# A code for the step before now stops working when the step after now begins;
# this close to that, use the current step instead.
LATE_IN_STEP_S = 25


# --------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------


def day(offset: int) -> datetime.date:
    """Today (UTC, as the server counts days) plus `offset` days."""
    return datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=offset)


def iso(d: datetime.date) -> str:
    return d.isoformat()


def human(d: datetime.date) -> str:
    """A date as the portal writes it: "1 August 2024"."""
    return f"{d.day} {d.strftime('%B')} {d.year}"


def set_policy(portal: Portal, required_from: datetime.date, *extra: str) -> None:
    portal.cli_ok("policy", "set", "--mfa-required-from", iso(required_from), *extra)


# --------------------------------------------------------------------------
# An authenticator app
# --------------------------------------------------------------------------


class AuthenticatorApp:
    """A person's authenticator app (pyotp). The server accepts a code from one
    step either side of now but never a step at or before the last one it
    accepted; `code()` walks forward through those steps, so a test can enrol,
    sign in and prove it again within seconds instead of waiting 30 s each
    time, and sleeps only when it has used them all up."""

    def __init__(self, key: str) -> None:
        self.totp = pyotp.TOTP(key)
        self.last_step: int | None = None

    def code(self) -> str:
        while True:
            now = time.time()
            current = int(now // TOTP_STEP_S)
            step = current - 1 if now - current * TOTP_STEP_S < LATE_IN_STEP_S else current
            if self.last_step is not None:
                step = max(step, self.last_step + 1)
            if step <= current + 1:
                self.last_step = step
                return self.totp.at(step * TOTP_STEP_S)
            time.sleep((step - 1) * TOTP_STEP_S - now + 0.2)


def enrol_authenticator_app(page: Page, name: str) -> AuthenticatorApp:
    """On the method choice: choose an authenticator app, read the key shown as
    text, and verify a code from it. Doesn't check where that leads."""
    page.get_by_role("radio", name="Authenticator app", exact=True).check()
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Set up an authenticator app", exact=True)).to_be_visible()
    key = page.locator("#totp-secret").inner_text().strip().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]+", key), f"#totp-secret is not a base32 key: {key!r}"
    app = AuthenticatorApp(key)
    page.get_by_role("textbox", name="Verification code", exact=True).fill(app.code())
    page.get_by_role("textbox", name="Name for this app (optional)", exact=True).fill(name)
    page.get_by_role("button", name="Verify", exact=True).click()
    return app


def expect_the_method_added(page: Page, name: str) -> None:
    expect_path(page, "/profile/self-service")
    main = page.get_by_role("main")
    expect(main.get_by_text(re.compile(r"^Your new sign-in method has been added"))).to_be_visible()
    expect(main.get_by_role("table").get_by_role("row").filter(has_text=name)).to_have_count(1)


def prove_it_is_you(page: Page, app: AuthenticatorApp) -> None:
    """At the second step: a code from `app`."""
    expect_path(page, VERIFY_PATH)
    page.get_by_role("textbox", name="Verification code", exact=True).fill(app.code())
    page.get_by_role("button", name="Verify", exact=True).click()


def sign_in_with_app(page: Page, portal: Portal, user: User, app: AuthenticatorApp) -> None:
    sign_in(page, portal, user)
    prove_it_is_you(page, app)


# --------------------------------------------------------------------------
# Administrators
# --------------------------------------------------------------------------


def expect_admin_home(page: Page) -> None:
    expect_path(page, "/admin")
    expect(page.get_by_role("heading", level=1, name="Admin", exact=True)).to_be_visible()


def admin_with_an_app(
    page: Page,
    portal: Portal,
    email: str,
    name: str,
    *,
    role: str = "local-admin",
    org: str | None = None,
) -> tuple[User, AuthenticatorApp]:
    """A new administrator who signs in, enrols an authenticator app and opens
    the admin area (proving the app again, as it asks), leaving `page` on
    /admin."""
    admin = portal.add_user(email, name, role=role, **({"org": org} if org else {}))
    sign_in(page, portal, admin)
    expect_path(page, "/profile")
    go_to_method_choice(page)
    app = enrol_authenticator_app(page, "Admin phone")
    expect_the_method_added(page, "Admin phone")
    page.get_by_role("banner").get_by_role("link", name="Admin", exact=True).click()
    prove_it_is_you(page, app)
    expect_admin_home(page)
    return admin, app


def find_user(page: Page, portal: Portal, text: str) -> None:
    """Find users, searching for `text`."""
    page.goto(portal.url("/admin/users"))
    expect(page.get_by_role("heading", level=1, name="Find users", exact=True)).to_be_visible()
    page.get_by_role("searchbox", name="Name or email", exact=True).fill(text)
    page.get_by_role("button", name="Search", exact=True).click()
    expect_path(page, "/admin/users")


def open_user(page: Page, portal: Portal, text: str, name: str) -> str:
    """Find users for `text` and open the person called `name`; their page's path."""
    find_user(page, portal, text)
    page.get_by_role("table", name="Accounts").get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=name, exact=True)).to_be_visible()
    path = re.sub(r"^https?://[^/]+", "", page.url).split("?")[0]
    assert re.fullmatch(r"/admin/users/[^/]+", path), f"not a person's page: {page.url}"
    return path


# --------------------------------------------------------------------------
# Regaining access: a forgotten password, recovery codes, remembered devices
# --------------------------------------------------------------------------

FORGOTTEN_PASSWORD_PATH = "/forgotten-password"
NEW_PASSWORD_PATH = "/forgotten-password/new-password"
RESET_NOTE = "To reset your password, prove it is you."
RESET_CHOICE_PATH = "/forgotten-password/choose"
RECOVERY_CODES_PATH = "/profile/self-service/recovery-codes"
USE_RECOVERY_CODE_PATH = "/sign-in/recovery-code"
REMEMBER_THIS_DEVICE = "Don\u2019t ask again on this device for 30 days"
# An authenticator app enrolled without a name is called this, which is also
# the name the decoy second step (for an unknown address) shows.
DEFAULT_APP_NAME = "Authenticator app"


def user_with_an_app(page: Page, portal: Portal, name: str = "") -> AuthenticatorApp:
    """portal.user signs in with the password and enrols an authenticator app
    (called `name`, or by default DEFAULT_APP_NAME), and stays signed in on
    Self-Service."""
    sign_in(page, portal)
    expect_path(page, "/profile")
    go_to_method_choice(page)
    app = enrol_authenticator_app(page, name)
    expect_the_method_added(page, name or DEFAULT_APP_NAME)
    return app


def open_forgotten_password(page: Page, portal: Portal) -> None:
    """The sign-in page's "Forgotten your password?" link."""
    page.goto(portal.url("/sign-in"))
    page.get_by_role("link", name="Forgotten your password?", exact=True).click()
    expect_path(page, FORGOTTEN_PASSWORD_PATH)
    expect(page.get_by_role("heading", level=1, name="Forgotten your password?", exact=True)).to_be_visible()


def start_password_reset(
    page: Page, portal: Portal, email: str, method: str = "Authenticator app", note: str = RESET_NOTE
) -> None:
    """"Forgotten your password?" › Email address › Continue › "How do you
    want to prove it is you?" (the same choice for every address; nothing is
    sent before it) › `method` › Continue, which leads to a second step that
    says it is for a reset (in the words `note`)."""
    open_forgotten_password(page, portal)
    page.get_by_role("textbox", name="Email address", exact=True).fill(email)
    page.get_by_role("button", name="Continue", exact=True).click()
    choose_reset_method(page, method, note)


def choose_reset_method(page: Page, method: str, note: str = RESET_NOTE) -> None:
    """On a reset's "How do you want to prove it is you?": `method`, then
    Continue, which leads to its second step."""
    expect_path(page, RESET_CHOICE_PATH)
    expect(page.get_by_role("heading", level=1, name="How do you want to prove it is you?", exact=True)).to_be_visible()
    expect_reset_note(page, note)
    page.get_by_role("radio", name=method, exact=True).check()
    page.get_by_role("button", name="Continue", exact=True).click()
    expect_path(page, VERIFY_PATH)
    expect_reset_note(page, note)


def expect_reset_note(page: Page, note: str = RESET_NOTE) -> None:
    expect(page.get_by_role("main").get_by_text(note, exact=True)).to_be_visible()


def save_new_password(page: Page, new: str, confirm: str | None = None) -> None:
    """On "Create a new password": the new password twice (or `confirm` the
    second time), then Save password. Doesn't check where that leads."""
    expect_path(page, NEW_PASSWORD_PATH)
    expect(page.get_by_role("heading", level=1, name="Create a new password", exact=True)).to_be_visible()
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("Confirm new password", exact=True).fill(new if confirm is None else confirm)
    page.get_by_role("button", name="Save password", exact=True).click()


def expect_the_password_reset(page: Page) -> None:
    """The sign-in page after a successful reset."""
    expect_path(page, "/sign-in")
    expect(page.get_by_role("main")).to_contain_text("Your password has been reset")
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()


def open_recovery_codes(page: Page, portal: Portal) -> None:
    """Signed in: Self-Service › Recovery codes."""
    page.goto(portal.url("/profile/self-service"))
    page.get_by_role("main").get_by_role("link", name="Recovery codes", exact=True).click()
    expect_path(page, RECOVERY_CODES_PATH)
    expect(page.get_by_role("heading", level=1, name="Recovery codes", exact=True)).to_be_visible()


def create_recovery_codes(page: Page, portal: Portal, app: AuthenticatorApp) -> list[str]:
    """Signed in: Self-Service › Recovery codes › Create (new) recovery codes,
    proving `app` first if the portal asks for a fresh second factor; returns
    the codes shown."""
    open_recovery_codes(page, portal)
    create = page.get_by_role("button", name=re.compile(r"^Create (new )?recovery codes$"))
    codes = page.locator("#recovery-codes code")
    create.click()
    code_box = page.get_by_role("textbox", name="Verification code", exact=True)
    expect(codes.first.or_(code_box)).to_be_visible()
    if code_box.count():
        # Back from the second step on the same page: ask for the codes again.
        prove_it_is_you(page, app)
        expect_path(page, RECOVERY_CODES_PATH)
        create.click()
    expect(codes.first).to_be_visible()
    return [c.strip() for c in codes.all_inner_texts()]


def open_use_a_recovery_code(page: Page) -> None:
    """At the second step: Sign in another way › Use a recovery code."""
    expect_path(page, VERIFY_PATH)
    page.get_by_role("link", name="Sign in another way", exact=True).click()
    page.get_by_role("link", name="Use a recovery code", exact=True).click()
    expect_path(page, USE_RECOVERY_CODE_PATH)
    expect(page.get_by_role("heading", level=1, name="Use a recovery code", exact=True)).to_be_visible()


def submit_recovery_code(page: Page, code: str) -> None:
    page.get_by_role("textbox", name="Recovery code", exact=True).fill(code)
    page.get_by_role("button", name="Verify", exact=True).click()


def remember_this_device(page: Page, app: AuthenticatorApp) -> None:
    """At the second step after the password: tick "Don't ask again on this
    device" and prove `app`."""
    expect_path(page, VERIFY_PATH)
    box = page.get_by_role("checkbox", name=REMEMBER_THIS_DEVICE, exact=True)
    expect(box).not_to_be_checked()
    box.check()
    prove_it_is_you(page, app)
    expect_path(page, "/profile")
