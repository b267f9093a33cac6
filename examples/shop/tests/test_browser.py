"""Drive the synchro admin page in a real headless Chromium (Debian's, through Playwright)."""

import os
import shutil
from decimal import Decimal

import pytest
from catalog.models import Category, Product

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
# Root in a container needs --no-sandbox; the rest keep Chromium off the (closed) network.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium or set CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


@pytest.mark.django_db(transaction=True, databases=["default", "branch"])
def test_staff_synchronizes_the_branch_from_the_admin_page(live_server, browser_page, django_user_model):
    django_user_model.objects.create_superuser("boss", "boss@example.com", "s3cret-pass")
    fruit = Category.objects.create(name="Fruit")
    Product.objects.create(sku="APL", name="Apple", category=fruit, price=Decimal("0.90"))
    page = browser_page

    page.goto(f"{live_server.url}/admin/synchro/")
    assert "/admin/login/" in page.url  # staff only: anonymous visitors are sent to log in
    page.fill("#id_username", "boss")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/synchro/")
    assert page.locator("h1").inner_text() == "Synchronization"  # one heading (strict locator)
    assert "Never synchronized." in page.content()

    page.click("input[name=synchronize]")
    page.wait_for_load_state()
    message = page.locator(".messagelist li").first.inner_text()
    assert message.startswith("Synchronization finished: push: 2 added"), message
    assert Product.objects.using("branch").get(sku="APL").name == "Apple"
    assert "Last synchronization:" in page.content()
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "synchro-admin.png"), full_page=True)
