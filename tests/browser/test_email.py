"""Email through a real SMTP server, chosen in configuration.

An aiosmtpd server on a free loopback port stands in for the mail relay; the
portal is started with the SMTP email provider pointing at it, by environment
variables (NHSMAL_EMAIL_PROVIDER, NHSMAL_SMTP_URL) or by the equivalent
`nhsmal serve` flags. Text messages and calls stay with the outbox.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from typing import Callable, Iterator

import pyotp
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Page, expect

from harness import (
    PASSWORD,
    Portal,
    choose_method,
    error_summary,
    expect_a_method_added,
    expect_path,
    free_port,
    open_method_choice,
    sign_in,
)

METHOD_ADDED = "A sign-in method was added to your NHSmal account"
PASSWORD_CHANGED = "Your NHSmal password has been changed"
NEW_PASSWORD = "another long passphrase 42"
SMTP_WAIT_S = 10
# The queue retries a failed message 30 s after the attempt (email_queue.rs,
# FIRST_RETRY_SECONDS) and its worker looks every second; allow a little more.
RETRY_WAIT_S = 40
# The person's request waits 3 s at most for the first attempt.
REQUEST_LIMIT_S = 8


class Mailbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def messages_to(self, address: str) -> list[email.message.EmailMessage]:
        with self._lock:
            return [m for rcpt, m in self.received if address in rcpt]

    def wait_for_one_to(
        self, address: str, subject: str, timeout_s: float = SMTP_WAIT_S
    ) -> email.message.EmailMessage:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [m for m in self.messages_to(address) if m["Subject"] == subject]
            if found:
                break
            time.sleep(0.05)
        assert len(found) == 1, (
            f"expected one message to {address} with the subject {subject!r}; the SMTP server got "
            f"{[(rcpt, m['Subject']) for rcpt, m in self.received]}"
        )
        return found[0]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Mailbox]]:
    """An SMTP server on 127.0.0.1 and a free port, collecting messages."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, mailbox
    finally:
        controller.stop()


def smtp_by_environment(url: str) -> dict:
    return {"serve_env": {"NHSMAL_EMAIL_PROVIDER": "smtp", "NHSMAL_SMTP_URL": url}}


def smtp_by_flags(url: str) -> dict:
    return {"serve_args": ["--email-provider", "smtp", "--smtp-url", url]}


CONFIGURATIONS: dict[str, Callable[[str], dict]] = {
    "environment": smtp_by_environment,
    "flags": smtp_by_flags,
}


@pytest.mark.parametrize("configured_by", list(CONFIGURATIONS))
def test_enrolling_a_method_emails_the_person_over_smtp_and_not_to_the_outbox(
    configured_by: str,
    smtp_server: tuple[Controller, Mailbox],
    new_portal: Callable[..., Portal],
    page: Page,
) -> None:
    controller, mailbox = smtp_server
    portal = new_portal(**CONFIGURATIONS[configured_by](f"smtp://127.0.0.1:{controller.port}"))
    address = portal.user.email

    open_method_choice(page, portal)
    choose_method(page, "Authenticator app")
    expect_path(page, "/profile/self-service/enrol/authenticator-app")
    key = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_role("textbox", name="Verification code", exact=True).fill(pyotp.TOTP(key).now())
    page.get_by_role("button", name="Verify", exact=True).click()
    expect_a_method_added(page, "Authenticator app")

    message = mailbox.wait_for_one_to(address, METHOD_ADDED)
    assert message["To"] is not None and address in message["To"], message["To"]
    # Plain text and HTML alternatives (multipart/alternative); the text says what was added.
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Authenticator app" in text, text
    html = message.get_body(preferencelist=("html",))
    assert html is not None and html.get_content_type() == "text/html", message.as_string()
    assert "Authenticator app" in html.get_content()

    emails = [m for m in portal.outbox() if m.get("channel") == "email"]
    assert emails == [], f"email went to {portal.outbox_path} as well as over SMTP: {emails}"


def test_a_notice_sent_while_the_smtp_server_is_down_arrives_once_it_is_back_even_after_a_restart(
    new_portal: Callable[..., Portal], page: Page
) -> None:
    # The relay's port, held bound but not listening: connections to it are refused.
    relay_port = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    relay_port.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    relay_port.bind(("127.0.0.1", 0))
    port = relay_port.getsockname()[1]
    controller: Controller | None = None
    try:
        portal = new_portal(**smtp_by_flags(f"smtp://127.0.0.1:{port}"))
        address = portal.user.email

        sign_in(page, portal)
        expect_path(page, "/profile")
        page.goto(portal.url("/profile/change-password"))
        page.get_by_label("Current password", exact=True).fill(PASSWORD)
        page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Confirm new password", exact=True).fill(NEW_PASSWORD)
        started = time.monotonic()
        with page.expect_navigation() as sent:
            page.get_by_role("button", name="Change password", exact=True).click()
        changed_at = time.monotonic()
        # The change is made and the person told so, however the email went.
        expect_path(page, "/profile/self-service")
        expect(error_summary(page)).to_have_count(0)
        assert sent.value is not None and sent.value.status == 200, sent.value and sent.value.status
        assert changed_at - started < REQUEST_LIMIT_S, f"the change took {changed_at - started:.1f} s"

        # The message waits in the database, not in the process: it survives a restart.
        portal.stop()
        portal.start()

        relay_port.close()
        mailbox = Mailbox()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
        controller.start()
        message = mailbox.wait_for_one_to(
            address, PASSWORD_CHANGED, timeout_s=RETRY_WAIT_S - (time.monotonic() - changed_at)
        )
        assert "changed" in message.get_body(preferencelist=("plain",)).get_content()
        # Delivered once: a moment later there is still one.
        time.sleep(1.5)
        assert len([m for m in mailbox.messages_to(address) if m["Subject"] == PASSWORD_CHANGED]) == 1
        assert [m for m in portal.outbox() if m.get("channel") == "email"] == []
    finally:
        relay_port.close()
        if controller is not None:
            controller.stop()
