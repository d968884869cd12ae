"""Fixtures for the NHSmal Portal browser tests (helpers are in harness.py).

The tests drive the real `nhsmal` binary (``$NHSMAL_BIN``, by default
``target/debug/nhsmal``) in Debian's headless Chromium through Playwright,
and find everything on a page by role and accessible name, as a person or an
outside tester would (DESIGN.md section 2).

Fixtures:
- ``portal``: a fresh server on a free loopback port with its own data folder,
  organisation DEMO1 "Demo Pharmacy" and one user, ``portal.user``.
- ``new_portal(serve_args=..., serve_env=...)`` starts one with extra server
  flags or NHSMAL_* environment (a message provider, say).
- ``browser``: one Chromium for the whole run.
- ``page``: a page in a fresh browser context (its own cookies) per test;
  ``new_page(java_script_enabled=...)`` makes more, each in a context of its
  own.

On a failure the page's screenshot and HTML and the server's log are left in
``tests-artifacts/browser/`` at the repository root.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from harness import (
    ACTION_TIMEOUT_MS,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    Portal,
    nhsmal_bin,
)


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see in their teardown whether the test failed.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def _test_failed(request: pytest.FixtureRequest) -> bool:
    report = getattr(request.node, "rep_call", None)
    return report is not None and report.failed


def _artifact_stem(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:150]


@pytest.fixture
def new_portal(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Portal]]:
    """Factory: new_portal(serve_args=(), serve_env=None) -> a running portal
    with organisation DEMO1 and one user (portal.user), in a data folder of
    its own. `serve_args` are extra `nhsmal serve` flags and `serve_env`
    extra environment (such as NHSMAL_EMAIL_PROVIDER) for that server only:
    the harness passes none of the shell's NHSMAL_* settings on."""
    portals: list[Portal] = []

    def make(serve_args: Sequence[str] = (), serve_env: Mapping[str, str] | None = None) -> Portal:
        data_dir = tmp_path / "nhsmal-data"
        n = 1
        while data_dir.exists():
            n += 1
            data_dir = tmp_path / f"nhsmal-data-{n}"
        data_dir.mkdir()
        p = Portal(
            binary=nhsmal_bin(),
            data_dir=data_dir,
            serve_args=list(serve_args),
            serve_env=dict(serve_env or {}),
        )
        p.add_org()
        p.user = p.add_user("ann.example@demo1.nhs.uk", "Ann Example")
        p.start()  # on failure it reports the server's log itself
        portals.append(p)
        return p

    try:
        yield make
    finally:
        # Stop every server, even when stopping one fails; then report the first failure.
        problems: list[BaseException] = []
        for i, p in enumerate(portals):
            stopped_cleanly = True
            try:
                p.stop()
            except BaseException as e:  # noqa: BLE001 - pytest.fail raises an OutcomeException
                problems.append(e)
                stopped_cleanly = False
            if _test_failed(request) or not stopped_cleanly:
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                suffix = f".{i}" if i else ""
                (ARTIFACTS / f"{_artifact_stem(request)}{suffix}.server.log").write_text(p.server_log())
        if problems:
            raise problems[0]


@pytest.fixture
def portal(new_portal: Callable[..., Portal]) -> Portal:
    """A running portal with organisation DEMO1 and one user (portal.user)."""
    return new_portal()


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: `apt-get install chromium` (scripts/test does)", pytrace=False)
    b = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield b
    b.close()


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """Factory: new_page(java_script_enabled=True, **context_options) -> Page,
    each in a browser context of its own (its own cookies)."""
    contexts: list[BrowserContext] = []

    def make(java_script_enabled: bool = True, **options) -> Page:
        ctx = browser.new_context(java_script_enabled=java_script_enabled, **options)
        ctx.set_default_timeout(ACTION_TIMEOUT_MS)
        contexts.append(ctx)
        return ctx.new_page()

    yield make

    failed = _test_failed(request)
    for i, ctx in enumerate(contexts):
        if failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            for j, pg in enumerate(ctx.pages):
                stem = ARTIFACTS / f"{_artifact_stem(request)}.ctx{i}.page{j}"
                try:
                    pg.screenshot(path=f"{stem}.png", full_page=True)
                    Path(f"{stem}.html").write_text(f"<!-- {pg.url} -->\n{pg.content()}")
                except Exception as e:  # noqa: BLE001 - best effort only
                    Path(f"{stem}.error.txt").write_text(repr(e))
        ctx.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A page with JavaScript on, in a fresh context."""
    return new_page()


