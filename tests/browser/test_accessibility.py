"""axe-core finds no WCAG 2.2 A/AA or best-practice violation on any page, and
neither do the checks axe does not make (wcag.py): reflow at 320 px and 200 %
zoom, target size, visible and unhidden focus, the error summary's focus."""

import re
from typing import Callable
from urllib.parse import urlencode

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
    sign_out,
)
from wcag import error_summary_focused
from journeys import (
    ENROL_PATH,
    REMEMBER_THIS_DEVICE,
    VERIFY_PATH,
    admin_with_an_app,
    create_recovery_codes,
    day,
    open_forgotten_password,
    open_recovery_codes,
    open_use_a_recovery_code,
    open_user,
    prove_it_is_you,
    remember_this_device,
    save_new_password,
    set_policy,
    start_password_reset,
    submit_recovery_code,
    user_with_an_app,
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


# -- the MFA rollout, the admin area and feedback ---------------------------


def mfa_reminder(page: Page, portal: Portal) -> None:
    set_policy(portal, day(5))
    sign_in(page, portal)
    expect_path(page, "/mfa-reminder")
    expect(page.get_by_role("button", name="Remind me later", exact=True)).to_be_visible()


def enrol_choice_enrolment_only(page: Page, portal: Portal) -> None:
    set_policy(portal, day(-1))
    sign_in(page, portal)
    expect_path(page, ENROL_PATH)
    expect(page.get_by_role("main")).to_contain_text("Multi-factor authentication has been required since")


def temporary_access_pass_sign_in(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/sign-in"))
    page.get_by_role("link", name="Sign in with a temporary access pass", exact=True).click()
    expect_path(page, "/sign-in/temporary-access-pass")
    expect(page.get_by_role("textbox", name="Temporary access pass", exact=True)).to_be_visible()


def temporary_access_pass_sign_in_with_errors(page: Page, portal: Portal) -> None:
    temporary_access_pass_sign_in(page, portal)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(error_summary(page)).to_be_visible()


def local_admin(page: Page, portal: Portal) -> None:
    admin_with_an_app(page, portal, "lou.admin@demo1.nhs.uk", "Lou Admin")


def national_admin(page: Page, portal: Portal) -> None:
    admin_with_an_app(page, portal, "nat.admin@demo1.nhs.uk", "Nat Admin", role="national-admin")


def admin_users_with_results(page: Page, portal: Portal) -> None:
    local_admin(page, portal)
    page.goto(portal.url("/admin/users?q=demo1"))
    expect(page.get_by_role("table", name="Accounts").get_by_role("link", name="Ann Example")).to_be_visible()


def admin_user(page: Page, portal: Portal) -> None:
    local_admin(page, portal)
    open_user(page, portal, "Ann", "Ann Example")


def admin_user_with_an_error(page: Page, portal: Portal) -> None:
    admin_user(page, portal)
    with page.expect_navigation() as sent:
        page.get_by_role("button", name="Reset MFA", exact=True).click()
    assert sent.value is not None and sent.value.status == 422
    expect(error_summary(page)).to_be_visible()


def admin_pass(page: Page, portal: Portal) -> None:
    admin_user(page, portal)
    page.get_by_role("button", name="Issue temporary access pass", exact=True).click()
    expect(page.locator("#temporary-access-pass")).to_be_visible()


def admin_audit(page: Page, portal: Portal) -> None:
    local_admin(page, portal)
    page.get_by_role("main").get_by_role("link", name="Audit log", exact=True).click()
    expect(page.get_by_role("table", name="Events, newest first")).to_be_visible()


def admin_audit_with_an_error(page: Page, portal: Portal) -> None:
    admin_audit(page, portal)
    page.get_by_role("textbox", name="From date", exact=True).fill("yesterday")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(error_summary(page)).to_be_visible()


def admin_sign_in_log(page: Page, portal: Portal) -> None:
    local_admin(page, portal)
    page.get_by_role("main").get_by_role("link", name="Sign-in log", exact=True).click()
    expect(page.get_by_role("table", name="Sign-ins, newest first")).to_be_visible()


def admin_sign_in_log_with_an_error(page: Page, portal: Portal) -> None:
    admin_sign_in_log(page, portal)
    page.get_by_role("textbox", name="From date", exact=True).fill("yesterday")
    page.get_by_role("combobox", name="Risk", exact=True).select_option("high")
    page.get_by_role("button", name="Filter", exact=True).click()
    expect(error_summary(page)).to_be_visible()


def admin_risky_accounts(page: Page, portal: Portal) -> None:
    local_admin(page, portal)
    page.get_by_role("main").get_by_role("link", name="Risky accounts", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Risky accounts", exact=True)).to_be_visible()


def admin_risky_accounts_with_an_error(page: Page, portal: Portal) -> None:
    national_admin(page, portal)
    page.goto(portal.url("/admin/risky-accounts?state=gone&org=%21"))
    expect(error_summary(page).get_by_role("link")).to_have_count(2)


def admin_policy(page: Page, portal: Portal) -> None:
    national_admin(page, portal)
    page.get_by_role("main").get_by_role("link", name="MFA policy", exact=True).click()
    expect(page.get_by_role("button", name="Save policy", exact=True)).to_be_visible()


def admin_policy_with_an_error(page: Page, portal: Portal) -> None:
    admin_policy(page, portal)
    page.get_by_role("textbox", name="MFA required from", exact=True).fill("1 August")
    page.get_by_role("button", name="Save policy", exact=True).click()
    expect(error_summary(page)).to_be_visible()


def admin_clients(page: Page, portal: Portal) -> None:
    national_admin(page, portal)
    page.get_by_role("main").get_by_role("link", name="Apps for single sign-on", exact=True).click()
    expect(page.get_by_role("button", name="Add app", exact=True)).to_be_visible()


def admin_clients_with_errors(page: Page, portal: Portal) -> None:
    admin_clients(page, portal)
    page.get_by_role("textbox", name="Redirect URIs", exact=True).fill("http://mail.example/cb")
    page.get_by_role("button", name="Add app", exact=True).click()
    expect(error_summary(page).get_by_role("link")).to_have_count(2)


def admin_client_added(page: Page, portal: Portal) -> None:
    admin_clients(page, portal)
    page.get_by_role("textbox", name="App name", exact=True).fill("NHSmal Mail")
    page.get_by_role("textbox", name="Redirect URIs", exact=True).fill("https://mail.example/cb")
    page.get_by_role("button", name="Add app", exact=True).click()
    expect(page.locator("#client-secret")).to_be_visible()


def admin_clients_with_one_app(page: Page, portal: Portal) -> None:
    admin_client_added(page, portal)
    page.get_by_role("link", name="Back to apps for single sign-on", exact=True).click()
    expect(page.get_by_role("button", name="Disable NHSmal Mail", exact=True)).to_be_visible()


def consent(page: Page, portal: Portal) -> None:
    """A third-party app (registered without --first-party) asks a signed-in
    person to share their details."""
    out = portal.cli_ok(
        "client", "add", "--name", "Rota Planner", "--redirect-uri", "http://localhost:9999/callback"
    ).stdout
    client_id = re.search(r"^client_id: (\S+)$", out, re.M).group(1)
    signed_in(page, portal)
    query = urlencode({
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": "http://localhost:9999/callback",
        "scope": "openid email profile",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    })
    page.goto(portal.url("/oauth2/authorize?" + query))
    expect(page.get_by_role("heading", level=1, name="Share your details with Rota Planner?", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Allow", exact=True)).to_be_visible()


def feedback_signed_out(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/sign-in"))
    page.get_by_role("contentinfo").get_by_role("link", name="Feedback", exact=True).click()
    expect(page.get_by_role("button", name="Send feedback", exact=True)).to_be_visible()


def feedback_with_errors(page: Page, portal: Portal) -> None:
    feedback_signed_out(page, portal)
    page.get_by_role("textbox", name="Tell us more (optional)", exact=True).fill("x" * 2001)
    page.get_by_role("button", name="Send feedback", exact=True).click()
    expect(error_summary(page).get_by_role("link")).to_have_count(3)


def send_feedback(page: Page, portal: Portal) -> None:
    feedback_signed_out(page, portal)
    page.get_by_role("radio", name="Setting up MFA", exact=True).check()
    page.get_by_role("radio", name="4 – Easy", exact=True).check()
    page.get_by_role("textbox", name="Tell us more (optional)", exact=True).fill("Quick to set up.")
    page.get_by_role("button", name="Send feedback", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Thank you for your feedback", exact=True)).to_be_visible()


def admin_feedback(page: Page, portal: Portal) -> None:
    send_feedback(page, portal)
    national_admin(page, portal)
    page.get_by_role("main").get_by_role("link", name="Feedback", exact=True).click()
    expect(page.get_by_role("table", name="Submissions by topic")).to_be_visible()
    expect(page.get_by_role("main").get_by_role("cell", name="Quick to set up.")).to_be_visible()


def admin_feedback_with_errors(page: Page, portal: Portal) -> None:
    national_admin(page, portal)
    page.goto(portal.url("/admin/feedback?rating=9&from=2027-02-30&org=%21"))
    expect(error_summary(page)).to_be_visible()


# -- regaining access: password reset, recovery codes, remembered devices ----


def forgotten_password_with_an_error(page: Page, portal: Portal) -> None:
    open_forgotten_password(page, portal)
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(error_summary(page)).to_contain_text("Enter your email address")


def reset_choice(page: Page, portal: Portal) -> None:
    user_with_an_app(page, portal)
    sign_out(page)
    open_forgotten_password(page, portal)
    page.get_by_role("textbox", name="Email address", exact=True).fill(portal.user.email)
    page.get_by_role("button", name="Continue", exact=True).click()
    expect_path(page, "/forgotten-password/choose")


def reset_choice_with_an_error(page: Page, portal: Portal) -> None:
    reset_choice(page, portal)
    page.get_by_role("button", name="Continue", exact=True).click()
    expect(error_summary(page)).to_contain_text("Select how you want to prove it is you")


def reset_second_step(page: Page, portal: Portal) -> None:
    user_with_an_app(page, portal)
    sign_out(page)
    start_password_reset(page, portal, portal.user.email)


def reset_new_password(page: Page, portal: Portal) -> None:
    app = user_with_an_app(page, portal)
    sign_out(page)
    start_password_reset(page, portal, portal.user.email)
    prove_it_is_you(page, app)
    expect_path(page, "/forgotten-password/new-password")


def reset_new_password_with_an_error(page: Page, portal: Portal) -> None:
    reset_new_password(page, portal)
    save_new_password(page, "another long passphrase 42", "another long passphrase 43")
    expect(error_summary(page)).to_be_visible()


def recovery_codes_none_yet(page: Page, portal: Portal) -> None:
    user_with_an_app(page, portal)
    open_recovery_codes(page, portal)
    expect(page.get_by_role("button", name="Create recovery codes", exact=True)).to_be_visible()


def recovery_codes_shown(page: Page, portal: Portal) -> None:
    app = user_with_an_app(page, portal)
    create_recovery_codes(page, portal, app)
    expect(page.get_by_role("button", name="Print the codes", exact=True)).to_be_visible()


def at_use_a_recovery_code(page: Page, portal: Portal) -> list[str]:
    app = user_with_an_app(page, portal)
    codes = create_recovery_codes(page, portal, app)
    sign_out(page)
    sign_in(page, portal)
    open_use_a_recovery_code(page)
    return codes


def use_a_recovery_code(page: Page, portal: Portal) -> None:
    at_use_a_recovery_code(page, portal)


def use_a_recovery_code_with_an_error(page: Page, portal: Portal) -> None:
    at_use_a_recovery_code(page, portal)
    submit_recovery_code(page, "ABCDE-FGHJK")
    expect(error_summary(page)).to_be_visible()


def recovery_code_used(page: Page, portal: Portal) -> None:
    codes = at_use_a_recovery_code(page, portal)
    submit_recovery_code(page, codes[0])
    expect(page.get_by_role("heading", level=1, name="Recovery code used", exact=True)).to_be_visible()


def second_step_offering_to_remember_the_device(page: Page, portal: Portal) -> None:
    user_with_an_app(page, portal)
    sign_out(page)
    sign_in(page, portal)
    expect_path(page, VERIFY_PATH)
    expect(page.get_by_role("checkbox", name=REMEMBER_THIS_DEVICE, exact=True)).to_be_visible()


def self_service_with_a_remembered_device(page: Page, portal: Portal) -> None:
    app = user_with_an_app(page, portal)
    sign_out(page)
    sign_in(page, portal)
    remember_this_device(page, app)
    page.get_by_role("main").get_by_role("link", name="Self-Service", exact=True).click()
    expect(page.get_by_role("table", name="Remembered devices")).to_be_visible()


def admin_policy_with_a_remembered_days_error(page: Page, portal: Portal) -> None:
    admin_policy(page, portal)
    page.get_by_role("textbox", name=re.compile(r"^Days a user’s device can be remembered")).fill("91")
    page.get_by_role("button", name="Save policy", exact=True).click()
    expect(error_summary(page)).to_be_visible()


def admin_import(page: Page, portal: Portal) -> None:
    national_admin(page, portal)
    page.get_by_role("main").get_by_role("link", name="Import users", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def admin_enrolment_report(page: Page, portal: Portal) -> None:
    national_admin(page, portal)
    page.get_by_role("main").get_by_role("link", name="Enrolment report", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.get_by_role("img").first).to_be_visible()


def recent_activity(page: Page, portal: Portal) -> None:
    signed_in(page, portal)
    page.goto(portal.url("/profile/activity"))
    expect(page.get_by_role("table", name="Sign-ins in the last 30 days")).to_be_visible()


def invitation(page: Page, portal: Portal) -> None:
    csv = portal.data_dir / "people.csv"
    csv.write_text("email,name,organisation,role\ninvited@demo1.nhs.uk,Ivy Invited,DEMO1,user\n")
    portal.cli_ok("user", "import", str(csv), "--public-url", portal.url("").rstrip("/"))
    body = next(m["body"] for m in reversed(portal.outbox()) if m["to"] == "invited@demo1.nhs.uk")
    link = re.search(r"https?://\S+/invitation/\S+", body).group(0)
    page.goto(link)
    expect(page.get_by_label("New password", exact=True)).to_be_visible()


def help_index(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/help"))
    expect(page.get_by_role("heading", level=1, name="Help with the NHSmal Portal", exact=True)).to_be_visible()


def help_page(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/help/choosing-a-method"))
    expect(page.get_by_role("heading", level=1, name="Which method should I choose?", exact=True)).to_be_visible()


def admin_confirm_reset(page: Page, portal: Portal) -> None:
    admin_with_an_app(page, portal, "la.example@demo1.nhs.uk", "Lou Admin")
    open_user(page, portal, portal.user.email, portal.user.name)
    page.get_by_role("textbox", name="Reason", exact=True).fill("Phone lost")
    page.get_by_role("button", name="Reset MFA", exact=True).click()
    expect(page.get_by_role("button", name="Yes, reset their MFA", exact=True)).to_be_visible()


def help_search_results(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/help?q=phone"))
    expect(page.get_by_role("heading", level=2, name=re.compile("^Help pages about"))).to_be_visible()


def new_phone(page: Page, portal: Portal) -> None:
    user_with_an_app(page, portal)
    page.goto(portal.url("/profile/new-phone"))
    expect(page.get_by_role("heading", level=1, name="Move to a new phone", exact=True)).to_be_visible()


def rollout_kit(page: Page, portal: Portal) -> None:
    admin_with_an_app(page, portal, "la.example@demo1.nhs.uk", "Lou Admin")
    page.goto(portal.url("/admin/rollout-kit"))
    expect(page.get_by_role("table", name="People who have not set up MFA")).to_be_visible()


def rollout_guide(page: Page, portal: Portal) -> None:
    admin_with_an_app(page, portal, "la.example@demo1.nhs.uk", "Lou Admin")
    page.goto(portal.url("/admin/rollout-kit/guide"))
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def not_me_confirmation(page: Page, portal: Portal) -> None:
    app = user_with_an_app(page, portal)
    # Someone else signs in (a second later: the log counts in seconds).
    page.wait_for_timeout(1100)
    other = page.context.browser.new_context().new_page()
    sign_in(other, portal)
    prove_it_is_you(other, app)
    other.context.close()
    page.goto(portal.url("/profile/activity"))
    page.get_by_role("link", name=re.compile("^This wasn't me")).first.click()
    expect(page.get_by_role("heading", level=1, name="Was this sign-in not you?", exact=True)).to_be_visible()


PAGES: dict[str, Callable[[Page, Portal], None]] = {
    "help index": help_index,
    "help search results": help_search_results,
    "move to a new phone": new_phone,
    "rollout kit": rollout_kit,
    "rollout guide to print": rollout_guide,
    "this wasn't me: confirm": not_me_confirmation,
    "help page": help_page,
    "admin confirm an mfa reset": admin_confirm_reset,
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
    "mfa reminder": mfa_reminder,
    "method choice when only enrolment is allowed": enrol_choice_enrolment_only,
    "temporary access pass sign-in": temporary_access_pass_sign_in,
    "temporary access pass sign-in with errors": temporary_access_pass_sign_in_with_errors,
    "admin home": local_admin,
    "admin find users with results": admin_users_with_results,
    "admin user": admin_user,
    "admin user with an error": admin_user_with_an_error,
    "admin temporary access pass": admin_pass,
    "admin audit log": admin_audit,
    "admin audit log with an error": admin_audit_with_an_error,
    "admin sign-in log": admin_sign_in_log,
    "admin sign-in log with an error": admin_sign_in_log_with_an_error,
    "admin risky accounts": admin_risky_accounts,
    "admin risky accounts with an error": admin_risky_accounts_with_an_error,
    "admin mfa policy": admin_policy,
    "admin mfa policy with an error": admin_policy_with_an_error,
    "admin clients": admin_clients,
    "admin clients with errors": admin_clients_with_errors,
    "admin client added, secret shown once": admin_client_added,
    "admin clients with one app": admin_clients_with_one_app,
    "consent for a third-party app": consent,
    "feedback signed out": feedback_signed_out,
    "feedback with errors": feedback_with_errors,
    "feedback thank-you": send_feedback,
    "admin feedback": admin_feedback,
    "admin feedback with errors": admin_feedback_with_errors,
    "forgotten password with an error": forgotten_password_with_an_error,
    "password reset choice": reset_choice,
    "password reset choice with an error": reset_choice_with_an_error,
    "password reset second step": reset_second_step,
    "password reset new password": reset_new_password,
    "password reset new password with an error": reset_new_password_with_an_error,
    "recovery codes, none yet": recovery_codes_none_yet,
    "recovery codes shown": recovery_codes_shown,
    "use a recovery code": use_a_recovery_code,
    "use a recovery code with an error": use_a_recovery_code_with_an_error,
    "recovery code used": recovery_code_used,
    "second step offering to remember the device": second_step_offering_to_remember_the_device,
    "self-service with a remembered device": self_service_with_a_remembered_device,
    "admin mfa policy with a remembered-days error": admin_policy_with_a_remembered_days_error,
    "admin import": admin_import,
    "admin enrolment report": admin_enrolment_report,
    "invitation: set a password": invitation,
    "recent activity": recent_activity,
}


def expect_error_links_lead_to_fields(page: Page) -> None:
    """Each link of an error summary leads to one element of the page (axe
    doesn't check where in-page links go)."""
    for href in error_summary(page).get_by_role("link").evaluate_all("els => els.map(e => e.getAttribute('href'))"):
        assert href and href.startswith("#"), f"an error summary link goes off the page: {href!r}"
        found = page.locator(f"[id='{href[1:]}']").count()
        assert found == 1, f"the error summary links to {href}, which matches {found} elements"


@pytest.mark.parametrize("name", list(PAGES))
def test_the_page_has_no_accessibility_violations(name: str, portal: Portal, page: Page) -> None:
    PAGES[name](page, portal)
    # The error summary's focus first: the checks after it move the focus.
    problems = error_summary_focused(page)
    assert not problems, f"{name}: {problems}"
    axe(page, name)  # with the WCAG checks beyond axe
    expect_error_links_lead_to_fields(page)
