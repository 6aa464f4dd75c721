"""The query editor in a real headless Chromium: it loads, runs an example query, fetches only from us."""

from __future__ import annotations

import shutil
from urllib.parse import urlsplit

import pytest
from sparql_support import endpoint_server

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        pytest.skip("needs chromium and chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_editor_runs_an_example_query_with_local_assets_only(config, built, tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    queries = tmp_path / "queries"
    queries.mkdir()
    (queries / "csto-label.rq").write_text(
        "# Question: What is the CSTO called?\n"
        "SELECT ?label WHERE {\n"
        "  <https://w3id.org/treatygraph/id/organization/csto> rdfs:label ?label\n"
        "}\n"
    )
    with endpoint_server(config, queries_dir=queries) as server:
        browser.get(f"{server.url}/sparql")
        wait = WebDriverWait(browser, 20)
        wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, ".yasqe .CodeMirror")))
        browser.find_element(By.CSS_SELECTOR, "[data-example='0']").click()
        editor_text = browser.execute_script(
            "return document.querySelector('.yasqe .CodeMirror').CodeMirror.getValue()"
        )
        assert "What is the CSTO called?" in editor_text
        browser.find_element(By.CSS_SELECTOR, ".yasqe_queryButton").click()
        wait.until(
            lambda driver: (
                "Collective Security Treaty Organization"
                in driver.find_element(By.CSS_SELECTOR, ".yasr").text
            )
        )
        fetched = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert any(url.endswith("/static/yasgui/yasgui.min.js") for url in fetched)
        ours = urlsplit(server.url).netloc
        assert [url for url in fetched if urlsplit(url).netloc != ours] == []
        problems = [
            entry["message"]
            for entry in browser.get_log("browser")
            if entry["level"] == "SEVERE"
            or "Content Security Policy" in entry["message"]
            or "Content-Security-Policy" in entry["message"]
        ]
        assert problems == []
