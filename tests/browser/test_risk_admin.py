"""Risky accounts: someone tries many passwords on Ann's account; her local
administrator finds her on Risky accounts, looks at her sign-ins and confirms
the account compromised, which signs her out and stops her password."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from playwright.sync_api import Page, expect

from harness import Portal, axe, expect_my_profile, expect_path, sign_in
from journeys import admin_with_an_app

# Brute force from the third wrong password in an hour, so the test need not
# wait out the growing delays before the tenth.
RISK_SETTINGS = "[risk]\nbrute_force_failures = 3\n"


def test_a_local_admin_confirms_a_flagged_account_compromised(
    new_portal: Callable[..., Portal], new_page: Callable[..., Page], tmp_path: Path
) -> None:
    config = tmp_path / "risk.toml"
    config.write_text(RISK_SETTINGS)
    portal = new_portal(serve_args=["--config", str(config)])
    ann = portal.user

    # Ann is signed in on her own computer.
    ann_page = new_page()
    sign_in(ann_page, portal)
    expect_my_profile(ann_page)

    # Someone else tries passwords on her account.
    attacker = new_page()
    for _ in range(3):
        sign_in(attacker, portal, password="not her password 123")
        expect_path(attacker, "/sign-in")

    # Her local administrator finds her on Risky accounts.
    admin_page = new_page()
    admin_with_an_app(admin_page, portal, "lou.admin@demo1.nhs.uk", "Lou Admin")
    admin_page.get_by_role("main").get_by_role("link", name="Risky accounts", exact=True).click()
    expect_path(admin_page, "/admin/risky-accounts")
    flagged = admin_page.get_by_role("table", name="Flagged accounts, most recent first")
    row = flagged.get_by_role("row").filter(has_text=ann.email)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("many wrong passwords")
    expect(row).to_contain_text("At risk")
    axe(admin_page, "risky accounts with a flagged person")

    # Her sign-ins show the failed attempts.
    row.get_by_role("link", name=re.compile(r"^Sign-ins")).click()
    expect_path(admin_page, "/admin/sign-ins")
    expect(admin_page.get_by_role("textbox", name="Email address", exact=True)).to_have_value(ann.email)
    log = admin_page.get_by_role("table", name="Sign-ins, newest first")
    expect(log.get_by_role("row").filter(has_text="Failed")).to_have_count(3)
    axe(admin_page, "the sign-in log of one person")
    admin_page.go_back()

    # Confirmed compromised.
    row = admin_page.get_by_role("table", name="Flagged accounts, most recent first").get_by_role("row").filter(
        has_text=ann.email
    )
    row.get_by_role("button", name=re.compile(r"^Confirm compromised")).click()
    expect_path(admin_page, "/admin/risky-accounts")
    expect(admin_page.get_by_role("status")).to_contain_text("The account was confirmed compromised")
    expect(admin_page.get_by_role("main")).not_to_contain_text(ann.email)
    admin_page.get_by_role("combobox", name="State", exact=True).select_option("compromised")
    admin_page.get_by_role("button", name="Filter", exact=True).click()
    row = admin_page.get_by_role("row").filter(has_text=ann.email)
    expect(row).to_contain_text("Confirmed compromised")
    expect(row.get_by_role("button")).to_have_count(0)

    # Ann is signed out, her password no longer works, and she was told.
    ann_page.reload()
    expect_path(ann_page, "/sign-in")
    sign_in(ann_page, portal)
    expect(ann_page.get_by_role("heading", level=1, name="You need to reset your password", exact=True)).to_be_visible()
    told = [m for m in portal.outbox() if m["to"] == ann.email and m["channel"] == "email"]
    assert any(m["subject"] == "Your NHSmal account was secured by an administrator" for m in told), told
