"""Recent activity under My Profile: the person's sign-ins, the one they are
using now marked, and "This wasn't me", which asks first, then signs them out
everywhere and makes them reset the password."""

from __future__ import annotations

import re
import time
from typing import Callable

from playwright.sync_api import Page, expect

from harness import Portal, axe, expect_path, sign_in
from journeys import sign_in_with_app, user_with_an_app

ACTIVITY_TABLE = "Sign-ins in the last 30 days"


def open_recent_activity(page: Page, portal: Portal) -> None:
    page.goto(portal.url("/profile"))
    page.get_by_role("link", name="Recent activity", exact=True).click()
    expect_path(page, "/profile/activity")
    expect(page.get_by_role("heading", level=1, name="Recent activity", exact=True)).to_be_visible()


def test_a_person_sees_their_sign_ins_and_reports_one_that_wasnt_them(
    portal: Portal, page: Page, new_page: Callable[..., Page]
) -> None:
    app = user_with_an_app(page, portal)
    # Someone else, in another browser, signs in with the password and the app (a second
    # later: the log counts in seconds, and this browser's session began this second).
    time.sleep(1.1)
    other = new_page()
    sign_in_with_app(other, portal, portal.user, app)
    expect_path(other, "/profile")

    open_recent_activity(page, portal)
    table = page.get_by_role("table", name=ACTIVITY_TABLE)
    signed_in_rows = table.get_by_role("row").filter(has_text="Signed in")
    expect(signed_in_rows).to_have_count(2)
    axe(page, "recent activity")
    # This browser's own sign-in is marked, and offers no "This wasn't me".
    mine = signed_in_rows.filter(has_text="This is you now")
    expect(mine).to_have_count(1)
    expect(mine.get_by_role("link", name=re.compile("This wasn't me"))).to_have_count(0)
    # The newest is the other browser's. Its link names the row it acts on.
    theirs = signed_in_rows.first
    report = theirs.get_by_role("link", name=re.compile(r"^This wasn't me ?: Signed in, .+ \(UK time\), Chrome"))
    expect(report).to_have_count(1)
    report.click()

    # Nothing happens before the person confirms: going back leaves everything as it was.
    expect(page.get_by_role("heading", level=1, name="Was this sign-in not you?", exact=True)).to_be_visible()
    axe(page, "this wasn't me: confirm")
    page.get_by_role("link", name="No, go back to Recent activity", exact=True).click()
    expect_path(page, "/profile/activity")
    other.reload()
    expect_path(other, "/profile")

    signed_in_rows.first.get_by_role("link", name=re.compile("^This wasn't me")).click()
    page.get_by_role("button", name="Yes, this wasn't me", exact=True).click()

    expect_path(page, "/sign-in")
    expect(page.get_by_role("main")).to_contain_text("We have signed you out everywhere")
    other.reload()
    expect_path(other, "/sign-in")
    # The password no longer signs in: a reset comes first.
    sign_in(page, portal)
    expect(page.get_by_role("heading", level=1, name="You need to reset your password", exact=True)).to_be_visible()
    axe(page, "password must be reset")
    page.get_by_role("link", name="Forgotten your password?", exact=True).click()
    expect_path(page, "/forgotten-password")
