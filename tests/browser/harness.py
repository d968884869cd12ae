"""The NHSmal Portal browser-test harness: the server under test (`Portal`)
and helpers that find things on a page by role and accessible name, as a
person or an outside tester would (DESIGN.md section 2). Fixtures live in
conftest.py; tests import helpers from here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "tests-artifacts" / "browser"
AXE_JS = REPO_ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("NHSMAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PASSWORD = "correct horse battery staple 1"
ORG_CODE = "DEMO1"
ORG_NAME = "Demo Pharmacy"

STARTUP_TIMEOUT_S = 30
SHUTDOWN_TIMEOUT_S = 10
CLI_TIMEOUT_S = 60
# Playwright waits: long enough for an unoptimised build, short enough that a
# missing element fails in seconds rather than Playwright's default 30 s.
ACTION_TIMEOUT_MS = 10_000
EXPECT_TIMEOUT_MS = 5_000

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

expect.set_options(timeout=EXPECT_TIMEOUT_MS)


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


def nhsmal_bin() -> Path:
    raw = os.environ.get("NHSMAL_BIN", str(REPO_ROOT / "target" / "debug" / "nhsmal"))
    path = Path(raw)
    if not path.is_absolute():
        path = (REPO_ROOT / path).resolve()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"nhsmal binary not found at {path}: build it with `cargo build` "
            "or point NHSMAL_BIN at it",
            pytrace=False,
        )
    return path


def child_env() -> dict[str, str]:
    """The environment for the binary: ours less any NHSMAL_* settings, so a
    stray NHSMAL_DATABASE_URL or NHSMAL_LISTEN in the developer's shell can't
    point the test server somewhere else. Flags say everything instead."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NHSMAL_")}
    env.setdefault("RUST_BACKTRACE", "1")
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class User:
    email: str
    name: str
    password: str = PASSWORD
    role: str = "user"
    org: str = ORG_CODE


@dataclasses.dataclass
class Portal:
    binary: Path
    data_dir: Path
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    user: User | None = None
    # Extra `nhsmal serve` flags and NHSMAL_* environment for this server
    # only, such as a message provider (child_env() drops the shell's own).
    serve_args: list[str] = dataclasses.field(default_factory=list)
    serve_env: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def base_url(self) -> str:
        # Always the name localhost: WebAuthn refuses IP-address origins, and
        # the public URL (cookies, links) says localhost.
        return f"http://localhost:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        """Run `nhsmal ARGS --data-dir DIR` and return the CompletedProcess
        (text mode, output captured). Doesn't check the exit status."""
        return subprocess.run(
            [str(self.binary), *args, "--data-dir", str(self.data_dir)],
            input=input,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            env=child_env(),
            cwd=self.data_dir,
        )

    def cli_ok(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        """`cli`, asserting exit status 0."""
        result = self.cli(*args, input=input)
        assert result.returncode == 0, (
            f"`nhsmal {' '.join(args)}` exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        return result

    def add_org(self, code: str = ORG_CODE, name: str = ORG_NAME) -> None:
        self.cli_ok("org", "add", "--code", code, "--name", name)

    def add_user(
        self,
        email: str,
        name: str,
        *,
        org: str = ORG_CODE,
        role: str = "user",
        password: str = PASSWORD,
    ) -> User:
        self.cli_ok(
            "user", "add", "--email", email, "--name", name, "--org", org,
            "--role", role, "--password-stdin",
            input=password + "\n",
        )
        return User(email=email, name=name, password=password, role=role, org=org)

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / "outbox.jsonl"

    def outbox(self) -> list[dict]:
        """Every message the embedded provider has written so far, oldest
        first (DESIGN.md section 2, "The outbox")."""
        if not self.outbox_path.exists():
            return []
        return [json.loads(line) for line in self.outbox_path.read_text().splitlines() if line.strip()]

    def server_log(self) -> str:
        if self.log_path and self.log_path.exists():
            return self.log_path.read_text(errors="replace")
        return ""

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        # A port picked by binding to port 0 can, rarely, be taken by someone
        # else before the server binds it; try a few.
        last_error = ""
        for attempt in range(3):
            self.port = free_port()
            self.log_path = self.data_dir / f"server-{attempt}.log"
            log = open(self.log_path, "wb")
            try:
                self.process = subprocess.Popen(
                    [
                        str(self.binary), "serve",
                        "--listen", f"127.0.0.1:{self.port}",
                        "--public-url", self.base_url,
                        "--data-dir", str(self.data_dir),
                        *self.serve_args,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**child_env(), **self.serve_env},
                    cwd=self.data_dir,
                )
            finally:
                log.close()
            outcome = self._wait_healthy()
            if outcome is None:
                return
            last_error = outcome
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            if "in use" not in self.server_log().lower():
                break
        pytest.fail(
            f"nhsmal serve did not become healthy: {last_error}\n"
            f"--- server log ---\n{self.server_log()}",
            pytrace=False,
        )

    def _wait_healthy(self) -> str | None:
        """None once GET /healthz answers 200, else what went wrong."""
        assert self.process is not None
        health = f"http://127.0.0.1:{self.port}/healthz"
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        last = "no answer"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                return f"the server exited with status {code}"
            try:
                with urllib.request.urlopen(health, timeout=2) as response:
                    if response.status == 200:
                        return None
                    last = f"/healthz answered {response.status}"
            except urllib.error.HTTPError as e:
                last = f"/healthz answered {e.code}"
            except (urllib.error.URLError, ConnectionError, socket.timeout) as e:
                last = f"/healthz: {e}"
            time.sleep(0.05)
        return f"no 200 from /healthz within {STARTUP_TIMEOUT_S} s (last: {last})"

    def stop(self) -> None:
        """SIGTERM, then assert the server is gone within 10 s and exited
        cleanly (status 0, or killed by that SIGTERM)."""
        process = self.process
        if process is None:
            return
        self.process = None
        early = process.poll()
        if early is not None:
            pytest.fail(
                f"the server died during the test (status {early})\n"
                f"--- server log ---\n{self.server_log()}",
                pytrace=False,
            )
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=SHUTDOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(
                f"the server did not exit within {SHUTDOWN_TIMEOUT_S} s of SIGTERM\n"
                f"--- server log ---\n{self.server_log()}",
                pytrace=False,
            )
        assert code in (0, -signal.SIGTERM), (
            f"the server exited with status {code} after SIGTERM\n"
            f"--- server log ---\n{self.server_log()}"
        )


# --------------------------------------------------------------------------
# Helpers for the tests
# --------------------------------------------------------------------------


def path_of(page: Page) -> str:
    return urlparse(page.url).path


def expect_path(page: Page, path: str, timeout: float | None = None) -> None:
    """Wait until the page's URL path is exactly `path` (query ignored), for
    `timeout` ms if given, else the usual expect timeout."""
    expect(page).to_have_url(re.compile(r"^https?://[^/]+" + re.escape(path) + r"(\?.*)?(#.*)?$"), timeout=timeout)


def sign_in_form_fill(page: Page, email: str, password: str) -> None:
    page.get_by_role("textbox", name="Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def sign_in(page: Page, portal: Portal, user: User | None = None, password: str | None = None) -> None:
    """Go to the sign-in page and sign in; doesn't check the outcome."""
    user = user or portal.user
    assert user is not None
    page.goto(portal.url("/sign-in"))
    sign_in_form_fill(page, user.email, password if password is not None else user.password)


def header(page: Page):
    return page.get_by_role("banner")


def open_profile_menu(page: Page) -> None:
    """Press the header's "Profile" button. With JavaScript it opens a menu in
    the header; without, it leads to a page with the same two items. Either
    way "My Profile" and "Sign out" are then the only ones on the page."""
    toggle = header(page).get_by_role("button", name="Profile", exact=True)
    expect(toggle).to_have_count(1)
    toggle.click()
    my_profile = page.get_by_role("link", name="My Profile", exact=True)
    sign_out_button = page.get_by_role("button", name="Sign out", exact=True)
    expect(my_profile).to_be_visible()
    expect(sign_out_button).to_be_visible()
    # "Visible" to Playwright only means a non-empty box: a menu clipped by an
    # ancestor's overflow, or painted under the page, passes that yet can't
    # be used with a mouse. A trial click checks that each item is what a
    # pointer at its centre would hit.
    for item in (my_profile, sign_out_button):
        try:
            item.click(trial=True, timeout=3_000)
        except PlaywrightTimeoutError as e:
            detail = [line.strip() for line in str(e).splitlines() if "intercepts pointer events" in line]
            raise AssertionError(
                f"the Profile menu is open but a person can't click {item}: "
                + (detail[0] if detail else "it never became clickable")
                + " (is the menu clipped by an ancestor with overflow: hidden, or under other content?)"
            ) from None


def sign_out(page: Page) -> None:
    open_profile_menu(page)
    page.get_by_role("button", name="Sign out", exact=True).click()
    expect_path(page, "/sign-in")


def expect_the_page_scripts_load(page: Page) -> None:
    """Assert that every script the page names in a <script src> answers 200:
    a page that relies on one (waiting for a call, a security key) can't work
    without it, and this says which one is missing rather than timing out."""
    sources = page.locator("script[src]").evaluate_all("els => els.map(e => e.src)")
    missing = []
    for src in sources:
        response = page.request.get(src)
        if response.status != 200:
            missing.append(f"{urlparse(src).path} answered {response.status}")
    assert not missing, f"scripts of {path_of(page)} don't load: " + "; ".join(missing)


def error_summary(page: Page):
    """The NHS error summary ("There is a problem"), a role=alert region."""
    return page.get_by_role("alert").filter(has_text="There is a problem")


def _axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS} missing: run `npm ci` in web/ (scripts/test does)", pytrace=False)
    return AXE_JS.read_text()


_AXE_RUN = """
;axe.run(document, {runOnly: {type: 'tag', values: %s}}).then(r => r.violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
  nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary})),
})))
""" % json.dumps(AXE_TAGS)


def axe_violations(page: Page) -> list[dict]:
    # page.evaluate is not subject to the page's CSP (script-src 'self'),
    # unlike add_script_tag, which inlines the file into a <script>.
    return page.evaluate(_axe_source() + _AXE_RUN)


def format_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for n in v["nodes"]:
            lines.append(f"    at {' > '.join(map(str, n['target']))}: {n['html'][:200]}")
            if n.get("summary"):
                lines.append("      " + n["summary"].replace("\n", "\n      "))
    return "\n".join(lines)


def axe(page: Page, label: str = "") -> None:
    """Assert that axe-core finds no WCAG 2.2 A/AA or best-practice violation
    on the page as it is now, and neither do the checks axe does not make
    (wcag.py: reflow, target size, visible focus; it Tabs through the page and
    resizes it, then puts the size back)."""
    page.wait_for_load_state("load")
    violations = axe_violations(page)
    assert not violations, (
        f"axe-core: {len(violations)} violation(s) on {label or path_of(page)} ({page.url}):\n"
        + format_violations(violations)
    )
    from wcag import wcag

    wcag(page, label or path_of(page), on_load=False)


# --------------------------------------------------------------------------
# The outbox
# --------------------------------------------------------------------------

OUTBOX_WAIT_S = 5


def messages_after(portal: Portal, after: int, channel: str, to: str | None = None) -> list[dict]:
    """The messages on `channel` (and to `to`, if given) among those written
    after the outbox's first `after` lines."""
    return [
        m for m in portal.outbox()[after:]
        if m.get("channel") == channel and (to is None or m.get("to") == to)
    ]


def next_message(portal: Portal, after: int, channel: str, to: str | None = None) -> dict:
    """The one message on `channel` (to `to`) written after the outbox's first
    `after` lines; fails unless exactly one arrives within a few seconds."""
    deadline = time.monotonic() + OUTBOX_WAIT_S
    found = messages_after(portal, after, channel, to)
    while not found and time.monotonic() < deadline:
        time.sleep(0.05)
        found = messages_after(portal, after, channel, to)
    assert len(found) == 1, (
        f"expected one new {channel} message{f' to {to}' if to else ''} in {portal.outbox_path} "
        f"after line {after}, found {len(found)}: {found}\nthe whole outbox: {portal.outbox()}"
    )
    return found[0]


# --------------------------------------------------------------------------
# Signed-in pages shared by the tests of each sign-in method
# --------------------------------------------------------------------------


def go_to_method_choice(page: Page) -> None:
    """From any signed-in page: Profile › My Profile › Self-Service ›
    Self-enroll for MFA."""
    open_profile_menu(page)
    page.get_by_role("link", name="My Profile", exact=True).click()
    expect_path(page, "/profile")
    page.get_by_role("main").get_by_role("link", name="Self-Service", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Self-Service", exact=True)).to_be_visible()
    page.get_by_role("main").get_by_role("button", name="Self-enroll for MFA", exact=True).click()
    expect(page.get_by_role("radio", name="Authenticator app", exact=True)).to_be_visible()


def open_method_choice(page: Page, portal: Portal) -> None:
    """Sign in with the password (a new user has no methods), then Profile ›
    My Profile › Self-Service › Self-enroll for MFA."""
    sign_in(page, portal)
    expect_path(page, "/profile")
    go_to_method_choice(page)


def choose_method(page: Page, method: str) -> None:
    """On the method choice: pick the radio `method` and Continue."""
    page.get_by_role("radio", name=method, exact=True).check()
    page.get_by_role("button", name="Continue", exact=True).click()


def expect_my_profile(page: Page) -> None:
    expect_path(page, "/profile")
    expect(page.get_by_role("heading", level=1, name="My Profile", exact=True)).to_be_visible()


def method_rows(page: Page, text: str):
    """The rows of Self-Service's table of methods that mention `text`."""
    return page.get_by_role("main").get_by_role("table").get_by_role("row").filter(has_text=text)


def expect_a_method_added(page: Page, method: str) -> Locator:
    """Self-Service after a successful enrolment: the confirmation, and one row
    for `method`, which is returned."""
    expect_path(page, "/profile/self-service")
    main = page.get_by_role("main")
    expect(main.get_by_text(re.compile(r"^Your new sign-in method has been added"))).to_be_visible()
    row = method_rows(page, method)
    expect(row).to_have_count(1)
    return row
