"""Timelines claim no more than the sources say (issue 14, item 5).

An open-ended membership is drawn up to the last day a source shows it in force (the latest
tg:inForceOn of its claims), then fades, and says so with the source; never up to the build date.
Organization, treaty and state pages alike have a timeline, and every row of the table under it
carries its quotes, each linked to its source. Pages are read by parsing their HTML; the expected
dates and sources are read from the store, not written here.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pyoxigraph as ox
import pytest

from treatygraph.core.dates import format_date
from treatygraph.publish.query import open_current_store

SVG = "{http://www.w3.org/2000/svg}"
PAGES = {
    "organization": "/doc/organization/csto.html",
    "treaty": "/doc/treaty/collective-security-treaty.html",
    "state": "/doc/state/uzbekistan.html",
}
LAST_ATTESTED = """
PREFIX tg: <https://w3id.org/treatygraph/ontology/>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX time: <http://www.w3.org/2006/time#>
PREFIX prov: <http://www.w3.org/ns/prov#>
SELECT ?m ?day ?precision ?file WHERE {
  ?m org:memberDuring ?period .
  ?period time:hasBeginning ?b .
  FILTER NOT EXISTS { ?period time:hasEnd ?e }
  ?claim tg:claimAbout ?m ; tg:inForceOn ?i ; prov:wasQuotedFrom ?source .
  ?i time:inXSDDate ?day ; tg:datePrecision ?precision .
  ?source tg:fileName ?file .
}
"""
CLAIM_QUOTES = """
PREFIX tg: <https://w3id.org/treatygraph/ontology/>
SELECT ?m ?quote WHERE { ?claim tg:claimAbout ?m ; tg:quote ?quote }
"""


class TimelineTable(HTMLParser):
    """The rows of each timeline table: membership path, To cell, quotes and their source links."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self._cell: str | None = None
        self._in_q = False
        self._in_source = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr" and attrs.get("class") == "period":
            self.rows.append(
                {"membership": attrs["data-membership"], "to": "", "quotes": [], "sources": []}
            )
        elif tag == "td" and self.rows:
            self._cell = attrs.get("class")
        elif tag == "q" and self._cell == "quotes":
            self._in_q = True
            self.rows[-1]["quotes"].append("")
        elif tag == "a" and "source" in (attrs.get("class") or "") and self._cell == "quotes":
            self._in_source = True
            self.rows[-1]["sources"].append((attrs.get("href"), ""))

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None
        elif tag == "q":
            self._in_q = False
        elif tag == "a":
            self._in_source = False

    def handle_data(self, data):
        if not self.rows:
            return
        row = self.rows[-1]
        if self._cell == "to":
            row["to"] += data
        if self._in_q:
            row["quotes"][-1] += data
        if self._in_source:
            href, text = row["sources"][-1]
            row["sources"][-1] = (href, text + data)


def table_rows(html: str) -> list[dict]:
    parser = TimelineTable()
    parser.feed(html)
    for row in parser.rows:
        row["to"] = " ".join(row["to"].split())
    return parser.rows


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in re.findall(r'<svg class="timeline-svg".*?</svg>', html, re.S)]


@pytest.fixture(scope="module")
def pages(app) -> dict[str, str]:
    client = app.test_client()
    found = {}
    for kind, path in PAGES.items():
        response = client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 200, path
        found[kind] = response.get_data(as_text=True)
    return found


@pytest.fixture(scope="module")
def store(config, built) -> ox.Store:
    return open_current_store(config)


@pytest.fixture(scope="module")
def last_attested(store, built) -> dict[str, tuple[dt.date, str, str]]:
    """Per open membership path: the latest day a claim shows it in force, as text, and by which
    source (`source 004`), read from the store."""
    found: dict[str, tuple] = {}
    rank = {"unitYear": 0, "unitMonth": 1, "unitDay": 2}
    for row in store.query(LAST_ATTESTED, use_default_graph_as_union=True):
        day = dt.date.fromisoformat(row["day"].value)
        precision = row["precision"].value.rsplit("#", 1)[-1]
        key = (day, rank[precision])
        path = row["m"].value[len(built.base_iri) :]
        if path not in found or key > found[path][0]:
            number = row["file"].value.split("_", 1)[0]
            found[path] = (key, format_date(row["day"].value, precision), f"source {number}")
    return {path: (key[0], text, source) for path, (key, text, source) in found.items()}


def test_organization_treaty_and_state_pages_each_draw_a_timeline(pages):
    for kind, html in pages.items():
        drawn = svgs(html)
        assert drawn, f"the {kind} page has no timeline"
        assert drawn[0].findall(f".//{SVG}rect[@class]"), kind
    state = svgs(pages["state"])[0]
    labels = [t.text for t in state.iter(f"{SVG}text") if t.get("class") == "row-label"]
    assert {"Collective Security Treaty", "CSTO", "CIS"} <= set(labels), labels


def test_open_membership_says_when_and_by_whom_it_was_last_attested(pages, last_attested):
    """Every open period's To cell: `no end known; last attested D (source NNN)`, with D the
    latest tg:inForceOn of its claims; the issue's own example among them."""
    checked = 0
    for html in pages.values():
        for row in table_rows(html):
            expected = last_attested.get(row["membership"])
            if expected is None:
                continue
            _, text, source = expected
            assert row["to"] == f"no end known; last attested {text} ({source})", row
            assert source in [name for _, name in row["sources"]], "its quote is shown"
            checked += 1
    assert checked >= 10
    csto = {row["membership"]: row["to"] for row in table_rows(pages["organization"])}
    assert csto["/id/membership/armenia-csto"] == (
        "no end known; last attested 2 December 2020 (source 004)"
    )


def test_open_bars_stop_at_the_last_attested_day_and_fade(pages, last_attested, built):
    """No bar runs to the build date: an open bar ends at the x of its last attested day
    (interpolated on the axis ticks), then a masked, fading piece follows."""
    built_on = dt.date.fromisoformat(built.built_at[:10])
    assert built_on.year > max(day.year for day, _, _ in last_attested.values()) + 1
    checked = 0
    for kind, html in pages.items():
        for svg in svgs(html):
            ticks = {
                int(t.text): float(t.get("x"))
                for t in svg.iter(f"{SVG}text")
                if t.get("text-anchor") == "middle"
            }
            (y0, x0), (y1, x1) = min(ticks.items()), max(ticks.items())

            def x_of(day: dt.date, y0=y0, x0=x0, y1=y1, x1=x1) -> float:
                years = (day - dt.date(y0, 1, 1)).days / 365.25
                return x0 + (x1 - x0) * years / (y1 - y0)

            for link in svg.iter(f"{SVG}a"):
                membership = link.get("href")
                rects = [r for r in link if r.tag == f"{SVG}rect" and "bar" in r.get("class", "")]
                for rect in rects[:1]:
                    right = float(rect.get("x")) + float(rect.get("width"))
                    assert right < x_of(built_on) - 10, f"{membership} is drawn to the build date"
                if membership not in last_attested or not rects:
                    continue
                checked += 1
                day = last_attested[membership][0]
                solid, fading = rects[0], rects[-1]
                end = float(solid.get("x")) + float(solid.get("width"))
                assert abs(end - x_of(day)) < 3, (kind, membership, end, x_of(day))
                assert "fading" in fading.get("class") and fading.get("mask"), membership
                title = fading.find(f"{SVG}title").text
                assert "no end known; last attested" in title, title
    assert checked >= 10, "open bars on the three pages"


def test_every_row_of_the_timeline_table_quotes_its_sources(pages, store, built):
    quotes: dict[str, set[str]] = {}
    for row in store.query(CLAIM_QUOTES, use_default_graph_as_union=True):
        quotes.setdefault(row["m"].value[len(built.base_iri) :], set()).add(row["quote"].value)
    rows = [row for html in pages.values() for row in table_rows(html)]
    assert len(rows) >= 15
    for row in rows:
        assert row["quotes"], f"{row['membership']} has no quote"
        assert len(row["sources"]) == len(row["quotes"])
        for quote in row["quotes"]:
            assert " ".join(quote.split()) in quotes[row["membership"]], quote
        for href, name in row["sources"]:
            assert href.startswith("/id/source/") and re.fullmatch(r"source \d{3}", name)


class Cells(HTMLParser):
    """The text of each cell of the table with class `wanted`, row by row."""

    def __init__(self, wanted: str):
        super().__init__()
        self.wanted, self.rows, self._depth, self._cell = wanted, [], 0, None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and dict(attrs).get("class") == self.wanted:
            self._depth = 1
        elif self._depth and tag == "tr":
            self.rows.append([])
        elif self._depth and tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if self._depth and tag in ("td", "th"):
            self.rows[-1].append(" ".join(self._cell.split()))
            self._cell = None
        elif tag == "table":
            self._depth = 0

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def test_the_treaty_page_shows_its_status_table_as_competency_query_38_answers(pages, store):
    """Issue 21: the treaty's page lists each participant's treaty actions as a depositary's status
    table would, and agrees with competency query 38 (read from queries/, run on the store)."""
    parser = Cells("treaty-status")
    parser.feed(pages["treaty"])
    header, *rows = parser.rows
    assert header[0] == "Participant" and header[-1] == "Party"
    table = {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}
    query = next((Path(__file__).parents[2] / "queries").glob("38-*.rq")).read_text()
    labels = "SELECT ?s ?l WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?l }"
    label = {
        r["s"].value: r["l"].value for r in store.query(labels, use_default_graph_as_union=True)
    }
    column = {
        "signature": "Signature",
        "accession": "Ratification, accession",
        "entry into force": "Entry into force",
        "renewal": "Renewal",
        "non-renewal": "Non-renewal, withdrawal",
        "withdrawal": "Non-renewal, withdrawal",
        "suspension": "Suspension",
    }
    checked = 0
    for answer in store.query(query, use_default_graph_as_union=True):
        precision = answer["precision"].value.rsplit("#", 1)[-1]
        date = format_date(answer["date"].value, precision)
        states = [label[answer["state"].value]] if answer["state"] else list(table)
        for state in states:
            assert date in table[state][column[answer["action"].value]], (state, answer)
            checked += 1
    assert checked >= 25
    assert table["Russia"]["Party"] == "from 20 April 1994"
    assert table["Georgia"]["Party"] == "20 April 1994 to 20 April 1999"
    assert table["Georgia"]["Signature"] == "", "Georgia acceded; it did not sign in 1992"
