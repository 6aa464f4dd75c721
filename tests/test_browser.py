"""A real browser on the pages: headless Chromium opens the home page, the CSTO with its timeline, follows a
member link and runs an example query in the editor. Screenshots go to tests/artifacts/; any request to
another host fails the test (from Chromium's own network log)."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).parent / "artifacts"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1600",
)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for binary in (CHROMIUM, CHROMEDRIVER):
        assert Path(binary).exists(), (
            f"{binary} is missing: `make test` installs chromium and chromium-driver"
        )
    profile = tempfile.mkdtemp(prefix="treatygraph-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def requested_urls(driver) -> list[str]:
    """Every URL the browser asked for since the last call, from the DevTools network events."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def assert_only_local(driver, live_server) -> list[str]:
    urls = requested_urls(driver)
    own = urllib.parse.urlsplit(live_server.url).netloc
    foreign = [
        u
        for u in urls
        if urllib.parse.urlsplit(u).scheme in ("http", "https", "ws", "wss")
        and urllib.parse.urlsplit(u).netloc != own
    ]
    assert not foreign, f"pages requested other hosts: {foreign}"
    return urls


def wait_for(driver, condition, timeout: float = 20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def results_or_error(driver):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, ".yasr table tbody tr") or driver.find_elements(
        By.CSS_SELECTOR, ".yasr .errorResult"
    )


def results_or_error_or_idle(driver):
    """Results, or True once the editor has stayed idle for 2 s: a query given in the link may run
    by itself, and clicking the button while it runs would cancel it."""
    from selenium.webdriver.common.by import By

    found = results_or_error(driver)
    if found:
        return found
    button = driver.find_element(By.CSS_SELECTOR, ".yasqe_queryButton")
    if "busy" in (button.get_attribute("class") or ""):
        driver.idle_since = None
        return False
    now = time.monotonic()
    driver.idle_since = getattr(driver, "idle_since", None) or now
    return now - driver.idle_since > 2


def test_home_organization_timeline_and_member_link(browser, live_server):
    from selenium.webdriver.common.by import By

    browser.get(f"{live_server.url}/")
    assert "treatygraph" in browser.title
    assert browser.find_element(By.CSS_SELECTOR, "form[role=search] input[name=q]")
    browser.save_screenshot(str(ARTIFACTS / "home.png"))
    assert_only_local(browser, live_server)

    browser.find_element(By.LINK_TEXT, "Collective Security Treaty Organization").click()
    wait_for(browser, lambda d: "/doc/organization/csto" in d.current_url)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Collective Security Treaty Organization"
    timeline = browser.find_element(By.CSS_SELECTOR, "svg.timeline-svg")
    assert timeline.size["width"] > 400 and timeline.size["height"] > 40, "the timeline is drawn"
    labels = [e.text for e in timeline.find_elements(By.CSS_SELECTOR, "text.row-label")]
    assert "Armenia" in labels
    assert timeline.find_elements(By.CSS_SELECTOR, "rect.bar")
    browser.save_screenshot(str(ARTIFACTS / "csto.png"))
    urls = assert_only_local(browser, live_server)
    assert any(u.endswith("/static/site.css") for u in urls)

    browser.find_element(By.CSS_SELECTOR, "a.member[href='/id/state/armenia']").click()
    wait_for(browser, lambda d: d.current_url.endswith("/doc/state/armenia.html"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Armenia"
    assert "Armenia is a founding member of the CSTO." in browser.page_source
    browser.save_screenshot(str(ARTIFACTS / "armenia.png"))
    assert_only_local(browser, live_server)


def test_search_box_finds_an_entity(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{live_server.url}/")
    box = browser.find_element(By.ID, "q")
    box.send_keys("arménia", Keys.ENTER)
    wait_for(browser, lambda d: "/search" in d.current_url)
    browser.find_element(By.CSS_SELECTOR, "ol.hits a[href='/id/state/armenia']")
    browser.save_screenshot(str(ARTIFACTS / "search.png"))
    assert_only_local(browser, live_server)


def test_example_query_from_the_home_page_runs_in_the_editor(browser, live_server):
    from selenium.webdriver.common.by import By

    browser.get(f"{live_server.url}/")
    links = browser.find_elements(By.CSS_SELECTOR, "a.example")
    assert links, "the home page lists the example queries"
    queries = [
        urllib.parse.unquote(link.get_attribute("href").split("#query=", 1)[1]) for link in links
    ]
    local = [i for i, q in enumerate(queries) if "SERVICE" not in q.upper()]
    assert local, "an example query that needs no remote service"
    links[local[0]].click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".yasqe .CodeMirror"))
    shown = browser.execute_script(
        "return document.querySelector('.yasqe .CodeMirror').CodeMirror.getValue()"
    )
    assert shown == queries[local[0]], "the editor opens with the example in it"
    rows = wait_for(browser, results_or_error_or_idle, timeout=30)
    if rows is True:
        browser.find_element(By.CSS_SELECTOR, ".yasqe_queryButton").click()
        rows = wait_for(browser, results_or_error, timeout=30)
    browser.save_screenshot(str(ARTIFACTS / "sparql-editor.png"))
    errors = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".yasr .errorResult")]
    assert not errors, f"the query failed: {errors}"
    assert rows
    assert_only_local(browser, live_server)
