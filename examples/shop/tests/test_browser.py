"""Drive the shop and the synchro admin page in a real headless Chromium (Debian's, through Playwright)."""

import os
import shutil
import time
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
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's (`sudo apt-get install chromium`) or set CHROMIUM"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def screenshot(page, name: str) -> None:
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], name), full_page=True)


def test_shop_shows_stock_levels_and_an_order_confirmed_by_the_worker(shop, browser_page):
    page = browser_page
    page.goto(f"{shop.url}/")
    milk = page.locator('tr[data-sku="MLK"] td')
    assert milk.all_inner_texts() == ["Milk", "1.05", "2", "30"]  # price (cacheops), stock (ledger)
    assert "low" in (milk.nth(2).get_attribute("class") or "")  # 2 units: shown as running low
    # a little CSS: the header bar is coloured by the stylesheet, not the browser's default
    assert page.locator("header").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(47, 93, 80)"
    screenshot(page, "shop-products.png")

    page.click("text=Milk")
    assert page.locator("#stock").inner_text().split() == ["warehouse", "units", "north", "2", "south", "30"]
    page.fill("#id_quantity", "2")
    page.click("button[type=submit]")
    page.wait_for_url(f"{shop.url}/orders/")
    row = page.locator("#orders tbody tr").first
    assert row.locator("td").nth(1).inner_text() == "Milk" and row.locator("td").nth(2).inner_text() == "2"
    deadline = time.monotonic() + 30  # the worker confirms within moments; waiting, not measuring
    while row.locator(".status").inner_text() != "confirmed" and time.monotonic() < deadline:
        time.sleep(0.5)
        page.reload()
        row = page.locator("#orders tbody tr").first
    assert row.locator(".status").inner_text() == "confirmed"  # the worker read the order and saved it
    screenshot(page, "shop-orders.png")


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
    screenshot(page, "synchro-admin.png")
