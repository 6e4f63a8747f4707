"""The web console in a real headless Chromium, with JavaScript off: log in, see a complaint that just came
through the Twilio webhook beside its raw message, retry its dead letter, and keep screenshots."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gateway.outbox import list_entries
from tests.admin.stack import Stack, running_stack, start_registry

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TEXT = "Lampu penerangan jalan di depan SDN 3 Cipedes mati sejak minggu lalu"

if not CHROMIUM.exists():
    reason = "Debian chromium is not installed (apt-get install chromium; `make test` does it)"
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)

from playwright.async_api import Page, async_playwright, expect  # noqa: E402 - only with a browser present


@pytest.fixture
async def stack(tmp_path: Path, vault_key: str) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path) as running:
        yield running


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        # Reading and every action must work without JavaScript.
        context = await browser.new_context(java_script_enabled=False, viewport={"width": 1400, "height": 1000})
        try:
            yield await context.new_page()
        finally:
            await context.close()
            await browser.close()


async def wait_for_dead_letter(stack: Stack, timeout: float = 20) -> str:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        entries = await list_entries(stack.gateway.db, "dispatch", states=("dead",))
        if entries:
            return str(entries[0]["id"])
        assert asyncio.get_running_loop().time() < deadline, "no dead letter (the registry port should be closed)"
        await asyncio.sleep(0.1)


async def test_console_in_chromium(stack: Stack, page: Page, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async with aiohttp.ClientSession() as http:
        assert await stack.send_sms(http, "SMbrowser1", TEXT) == 200
    job_id = await wait_for_dead_letter(stack)

    await page.goto(stack.path("/admin/"))
    await expect(page).to_have_url(stack.path("/admin/login"))
    await page.fill("#token", stack.tokens["operator"])
    await page.click("button[type=submit]")
    await expect(page).to_have_url(stack.path("/admin/"))
    await expect(page.locator("header .who")).to_have_text("operator-token (operator)")

    # The complaint sent a moment ago, and its raw message beside the normalized record.
    complaint = page.locator("#complaints tr.complaint").first
    await expect(complaint).to_contain_text("twilio")
    await complaint.locator("a").click()
    await expect(page.locator("#raw .fields")).to_contain_text(TEXT)
    await expect(page.locator("#raw .fields")).to_contain_text("SMbrowser1")
    await expect(page.locator("#record pre")).to_contain_text(f'"text": "{TEXT}"')
    raw_box, record_box = await page.locator("#raw").bounding_box(), await page.locator("#record").bounding_box()
    assert raw_box and record_box and raw_box["x"] < record_box["x"], "raw and record side by side"
    await page.screenshot(path=str(ARTIFACTS / "admin-console-complaint.png"), full_page=True)

    # Its dead letter, retried once the registry answers.
    await page.goto(stack.path("/admin/"))
    dead = page.locator(f'#dead-letters tr.dead-letter[data-id="{job_id}"]')
    await expect(dead).to_contain_text("twilio")
    async with start_registry(stack.registry_port, tmp_path):
        await dead.locator("button", has_text="Retry").click()
        await expect(page.locator(".notice")).to_have_text("1 dispatch dead letter(s) back in the outbox")
        deadline = asyncio.get_running_loop().time() + 20
        while not (await page.locator("#complaints tr.complaint").first.locator("td").nth(4).inner_text()).strip():
            assert asyncio.get_running_loop().time() < deadline, "the retried complaint was not filed"
            await asyncio.sleep(0.3)
            await page.reload()
    await expect(page.locator("#dead-letters")).to_contain_text("No dead letters.")
    await expect(page.locator("#channels tr.channel[data-channel=twilio]")).to_contain_text("enabled")
    await page.screenshot(path=str(ARTIFACTS / "admin-console.png"), full_page=True)
    assert (ARTIFACTS / "admin-console.png").stat().st_size > 10_000
