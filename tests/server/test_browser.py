"""A real browser on the pages: headless Chromium opens the home page, the CSTO with its timeline, follows a
member link, runs an example query in the editor, and answers a journalist's two questions from the
pages alone (who was a member on a date and who says so; when Uzbekistan left and rejoined).
Screenshots go to tests/artifacts/; any request to another host fails the test (from Chromium's own
network log)."""

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
ARTIFACTS = Path(__file__).parents[1] / "artifacts"
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


# -- the journalist's two questions, answered from the pages alone (issue 14, item 4) -------------
COMPETENCY = Path(__file__).parents[1] / "data" / "competency"


def first_day(text: str) -> str:
    """A date as the pages write it (`14 May 2002`, `May 2002`, `2002`) as its first day."""
    from treatygraph.core.dates import MONTHS

    parts = text.split()
    year = int(parts[-1])
    month = MONTHS.index(parts[-2]) + 1 if len(parts) >= 2 else 1
    day = int(parts[0]) if len(parts) == 3 else 1
    return f"{year:04d}-{month:02d}-{day:02d}"


def timeline_rows(browser, key: str) -> list[dict]:
    """The rows of a timeline table as a reader sees them: who or what, role, from, to, and the
    quotes shown in the row with their source and what each shows."""
    from selenium.webdriver.common.by import By

    table = browser.find_element(
        By.CSS_SELECTOR, f"section[aria-labelledby='timeline-title-{key}']"
    )
    rows, current = [], None
    for tr in table.find_elements(By.CSS_SELECTOR, "tr.period"):
        heads = tr.find_elements(By.CSS_SELECTOR, "th a")
        if heads:
            current = (heads[0].get_attribute("href"), heads[0].text)
        quotes = []
        for paragraph in tr.find_elements(By.CSS_SELECTOR, "td.quotes p.quote"):
            q = paragraph.find_element(By.TAG_NAME, "q")
            source = paragraph.find_element(By.CSS_SELECTOR, ".source")
            quotes.append(
                {
                    "text": q.text,
                    "visible": q.is_displayed(),
                    "source": source.text,
                    "source_href": source.get_attribute("href") or "",
                    "shows": paragraph.find_element(By.CSS_SELECTOR, ".shows").text,
                }
            )
        to = tr.find_elements(By.CSS_SELECTOR, "td.to")
        start = tr.find_elements(By.CSS_SELECTOR, "td.from")
        rows.append(
            {
                "href": urllib.parse.urlsplit(current[0]).path,
                "name": current[1],
                "role": tr.find_element(By.CSS_SELECTOR, "td.role").text,
                "from": start[0].text if start else "",
                "to": to[0].text if to else "",
                "quotes": quotes,
            }
        )
    return rows


def ended_by(row: dict) -> str | None:
    """The first day of a row's end, or None when no end is known."""
    if not row["to"] or row["to"].startswith("no end known"):
        return None
    return first_day(row["to"])


def test_journalist_reads_the_csto_members_on_1_january_2010_and_who_says_so(browser, live_server):
    """'Who was a member of the CSTO on 1 January 2010, and who says so?' read off the CSTO page:
    the members are those of competency question 01, each with visible quotes and their source."""
    browser.get(f"{live_server.url}/id/organization/csto")
    wait_for(browser, lambda d: d.current_url.endswith("/doc/organization/csto.html"))
    day = "2010-01-01"
    members = {}
    for row in timeline_rows(browser, "members"):
        if row["role"] != "member" or not row["from"]:
            continue
        end = ended_by(row)
        if first_day(row["from"]) <= day and (end is None or end > day):
            members[row["href"]] = row
    expected = json.loads((COMPETENCY / "01-csto-members-2010.json").read_text(encoding="utf-8"))
    assert set(members) == {r["state"] for r in expected["rows"]}
    for href, row in members.items():
        assert row["quotes"], f"no quote next to {row['name']}"
        for quote in row["quotes"]:
            assert quote["visible"] and quote["text"], (href, quote)
            assert "/id/source/" in quote["source_href"] and quote["source"].startswith("source ")
        assert any("start" in q["shows"] for q in row["quotes"]), "says who for since when"
    browser.save_screenshot(str(ARTIFACTS / "csto-members-2010.png"))
    assert_only_local(browser, live_server)


def test_journalist_reads_when_uzbekistan_left_and_rejoined(browser, live_server):
    """'When did Uzbekistan leave and rejoin?' read off Uzbekistan's page: its periods in the
    Treaty and the CSTO are those of competency question 19, each start and end with its quote."""
    browser.get(f"{live_server.url}/id/state/uzbekistan")
    wait_for(browser, lambda d: d.current_url.endswith("/doc/state/uzbekistan.html"))
    expected = json.loads(
        (COMPETENCY / "19-uzbekistan-membership-history.json").read_text(encoding="utf-8")
    )
    wanted = {r["in"] for r in expected["rows"]}
    rows = [row for row in timeline_rows(browser, "memberships") if row["href"] in wanted]
    periods = {
        (row["href"], "suspended" in row["role"], first_day(row["from"]), ended_by(row))
        for row in rows
    }
    assert periods == {
        (r["in"], r["status"].startswith("suspended"), r["since"], r.get("until"))
        for r in expected["rows"]
    }
    for row in rows:
        shows = [q["shows"] for q in row["quotes"] if q["visible"]]
        assert any("start" in s for s in shows), f"no quote for the start of {row}"
        if ended_by(row):
            assert any("end" in s for s in shows), f"no quote for the end of {row}"
        else:
            assert row["to"].startswith("no end known; last attested"), row["to"]
            assert any("last attested" in s for s in shows), row
    browser.save_screenshot(str(ARTIFACTS / "uzbekistan-history.png"))
    assert_only_local(browser, live_server)
