"""Email through a real SMTP server, chosen in configuration.

An aiosmtpd server on a free loopback port stands in for the mail relay; the
portal is started with the SMTP email provider pointing at it, by environment
variables (NHSMAL_EMAIL_PROVIDER, NHSMAL_SMTP_URL) or by the equivalent
`nhsmal serve` flags. Text messages and calls stay with the outbox.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from typing import Callable, Iterator

import pyotp
import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Page

from harness import (
    Portal,
    choose_method,
    expect_a_method_added,
    expect_path,
    free_port,
    open_method_choice,
)

METHOD_ADDED = "A sign-in method was added to your NHSmal account"
SMTP_WAIT_S = 10


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

    def wait_for_one_to(self, address: str, subject: str) -> email.message.EmailMessage:
        deadline = time.monotonic() + SMTP_WAIT_S
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
