"""The site in headless Chromium (issue 22): every state and person reached by clicking from `/`, term
headings, the query page's frame and result links, the 420 px layout, and the three questions
answered from `/` in at most three clicks each. Expected names and dates come from the build."""

from __future__ import annotations

import shutil
import tempfile
import time
import urllib.parse
from pathlib import Path

import pytest

from server.catalog import catalog

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync")
NARROW = 420


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for binary in (CHROMIUM, CHROMEDRIVER):
        assert Path(binary).exists(), f"{binary} is missing: `make test` installs it"
    profile = tempfile.mkdtemp(prefix="treatygraph-site-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, "--window-size=1280,1000", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def cat(app):
    with app.test_request_context("/"):
        return catalog()


def click(driver, text: str, partial: bool = False) -> None:
    """Click the first link with this text and wait for the next page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    how = By.PARTIAL_LINK_TEXT if partial else By.LINK_TEXT
    link = driver.find_element(how, text)
    link.click()
    WebDriverWait(driver, 20).until(ready.staleness_of(link))


def heading(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "h1").text


def test_every_state_and_person_is_reached_by_clicking_from_home(browser, live_server, cat):
    from selenium.webdriver.common.by import By

    for kind, cls in (("States", "State"), ("Persons", "Person")):
        browser.get(live_server.url + "/")
        click(browser, kind)
        expected = {cat.label(i) for i, types in cat.entities.items() if cat.tg + cls in types}
        links = {
            a.text: a.get_attribute("href")
            for a in browser.find_elements(By.CSS_SELECTOR, "ol.listing a")
        }
        assert set(links) == expected
        for name, href in links.items():
            browser.get(href)
            assert heading(browser) == name


def test_term_headings_name_holder_post_and_dates(browser, live_server, cat):
    from selenium.webdriver.common.by import By

    browser.get(live_server.url + "/browse/terms")
    first = browser.find_element(By.CSS_SELECTOR, "ol.listing a")
    name = first.text
    first.click()
    assert heading(browser) == name
    term = cat.build.ns.base + urllib.parse.urlsplit(browser.current_url).path.replace(
        "/doc/", "/id/"
    ).removesuffix(".html")
    holder = next(iter(cat.store.quads_for_pattern(_iri(term), _iri(cat.tg + "holder"), None)))
    assert cat.label(holder.object.value) in name
    assert browser.title.startswith(name)


def test_query_page_frame_prefixes_and_result_links(browser, live_server, cat):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    query = (
        "SELECT ?org ?member WHERE {\n"
        "  ?m a org:Membership ; org:organization ?org ; org:member ?member .\n"
        "  FILTER(?org = <" + cat.build.ns.base + "/id/organization/csto>)\n} LIMIT 3"
    )
    browser.get(live_server.url + "/sparql#query=" + urllib.parse.quote(query))
    wait = WebDriverWait(browser, 20)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".yasqe .CodeMirror"))
    assert browser.find_element(By.CSS_SELECTOR, "header.site nav a[href='/browse']")
    assert browser.find_element(By.CSS_SELECTOR, "header.site form.search input[name='q']")
    editor = "return document.querySelector('.yasqe .CodeMirror').CodeMirror.getValue()"
    assert browser.execute_script(editor).startswith("SELECT")  # no PREFIX line was added
    assert not browser.find_elements(By.CSS_SELECTOR, ".yasqe .parseErrorIcon")
    assert browser.title.startswith("SELECT ?org ?member")
    named = ".yasr_results a[data-named]"
    try:  # a #query= link runs its query as the page opens; the button would cancel it
        WebDriverWait(browser, 5).until(lambda d: d.find_elements(By.CSS_SELECTOR, named))
    except TimeoutException:
        browser.find_element(By.CSS_SELECTOR, ".yasqe_queryButton").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, named))
    links = browser.find_elements(By.CSS_SELECTOR, ".yasr_results a[data-named]")
    csto = next(a for a in links if a.get_attribute("data-iri").endswith("/organization/csto"))
    assert csto.text == cat.label(cat.build.ns.base + "/id/organization/csto")
    assert csto.get_attribute("target") in (None, "")
    tabs = len(browser.window_handles)
    csto.click()
    wait.until(lambda d: "/organization/csto" in d.current_url)
    assert len(browser.window_handles) == tabs
    assert (
        urllib.parse.urlsplit(browser.current_url).netloc
        == urllib.parse.urlsplit(live_server.url).netloc
    )
    assert heading(browser) == cat.label(cat.build.ns.base + "/id/organization/csto")


def test_undefined_prefixes_are_still_marked(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    query = "SELECT * WHERE { ?s nosuchprefix:p ?o }"
    browser.get(live_server.url + "/sparql#query=" + urllib.parse.quote(query))
    WebDriverWait(browser, 20).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".yasqe .parseErrorIcon")
    )
    editor = "return document.querySelector('.yasqe .CodeMirror').CodeMirror"
    browser.execute_script(editor + ".setValue('SELECT * WHERE { ?s a ')")
    browser.execute_script(editor + ".setCursor(1000)")
    browser.find_element(By.CSS_SELECTOR, ".yasqe .CodeMirror textarea").send_keys("skos:Concept }")
    time.sleep(1)
    typed = browser.execute_script(editor + ".getValue()")
    assert typed == "SELECT * WHERE { ?s a skos:Concept }"  # no PREFIX line written
    assert not browser.find_elements(By.CSS_SELECTOR, ".yasqe .parseErrorIcon")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/browse/terms",
        "/doc/organization/csto",
        "/doc/state/uzbekistan",
        "/doc/post/csto-secretary-general",
        "/doc/source/csto-2019-russia-chairmanship",
        "/sparql",
        "/dumps/",
        "/doc/ontology",
        "/doc/meeting/csto-csc-2020-12-02-videoconference",
    ],
)
def test_pages_fit_a_420_px_screen(browser, live_server, path):
    """A phone's width (Chromium's windows are at least 500 px wide, so the screen is emulated)."""
    screen = {"width": NARROW, "height": 900, "deviceScaleFactor": 1, "mobile": True}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", screen)
    try:
        browser.get(live_server.url + path)
        assert browser.execute_script("return window.innerWidth") == NARROW
        wide = browser.execute_script("return document.documentElement.scrollWidth")
        assert wide <= NARROW, f"{path}: {wide} px wide on a {NARROW} px screen"
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_three_questions_in_three_clicks_each(browser, live_server, cat):
    """CSTO members on 1 January 2010 and who says so; when Uzbekistan suspended its membership;
    the Secretary General in 2020: each from `/`, in at most three clicks."""
    from selenium.webdriver.common.by import By

    base = cat.build.ns.base
    # 1. One click: the CSTO's page, its timeline table with each member of 1 January 2010 and quotes.
    browser.get(live_server.url + "/")
    click(browser, cat.label(base + "/id/organization/csto"))
    table = browser.find_element(By.CSS_SELECTOR, ".timeline-table table")
    members_2010 = _members_on(cat, base + "/id/organization/csto", "2010-01-01")
    assert members_2010
    for member in members_2010:
        row = table.find_element(By.XPATH, f".//th[.//a[text()={_xpath(cat.short(member))}]]/..")
        assert row.find_elements(By.CSS_SELECTOR, "td.quotes q"), member
        assert row.find_elements(By.CSS_SELECTOR, "td.quotes .source"), member
    # 2. Two clicks: States, Uzbekistan; the suspension with its date.
    browser.get(live_server.url + "/")
    click(browser, "States")
    click(browser, "Uzbekistan")
    suspended = [
        facts
        for m in cat.memberships_of(base + "/id/state/uzbekistan")
        if (facts := cat.membership(m)).role
        and facts.role.endswith("SuspendedMemberRole")
        and facts.start is not None
    ]
    assert suspended
    text = browser.find_element(By.TAG_NAME, "main").text
    for facts in suspended:
        assert _date(facts.start) in text
    # 3. Two clicks: Posts, Secretary General of the CSTO; the holder in 2020, with the year.
    post = base + "/id/post/csto-secretary-general"
    browser.get(live_server.url + "/")
    click(browser, "Posts")
    click(browser, cat.label(post))
    holders = _holders_in(cat, post, "2020")
    assert holders
    texts = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "main a")]
    for holder in holders:
        assert any(cat.label(holder) in t and "2020" in t for t in texts), holder


def _iri(value: str):
    import pyoxigraph as ox

    return ox.NamedNode(value)


def _xpath(text: str) -> str:
    return f'"{text}"' if '"' not in text else f"'{text}'"


def _date(instant) -> str:
    from treatygraph.core.dates import format_date

    precision = instant.precision.value if instant.precision else None
    return format_date(instant.date.value, precision)


def _members_on(cat, organization: str, day: str) -> set[str]:
    """Members (role member) of an organization on a day, by the dates the graph holds."""
    found = set()
    for membership in cat.memberships_in(organization):
        facts = cat.membership(membership)
        if facts.role and not facts.role.endswith("/MemberRole"):
            continue
        start = facts.start.date.value if facts.start else None
        end = facts.end.date.value if facts.end else None
        if start and start <= day and (end is None or end >= day):
            found.add(facts.member)
    return found


def _holders_in(cat, post: str, year: str) -> set[str]:
    """Holders of a post whose term the graph dates (start, end or attested) to cover the year."""
    rows = cat.query(
        "SELECT ?holder ?start ?end ?seen WHERE { ?t tg:post <" + post + "> ; tg:holder ?holder ."
        " OPTIONAL { ?t time:hasTime/time:hasBeginning/time:inXSDDate ?start }"
        " OPTIONAL { ?t time:hasTime/time:hasEnd/time:inXSDDate ?end }"
        " OPTIONAL { ?t tg:attestedOn/time:inXSDDate ?seen } }"
    )
    found = set()
    for row in rows:
        start, end, seen = (row[k].value[:4] if row[k] else None for k in ("start", "end", "seen"))
        if seen == year or (start and start <= year and (end is None or end >= year)):
            found.add(row["holder"].value)
    return found
