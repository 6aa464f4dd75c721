"""One answer everywhere: for every organization and treaty and any day, the page's timeline (and the
table under it), the competency query and the Wikidata-shaped view name the same members.

The rule, as competency query 04 states it: a full membership is in effect on a day when its period
(org:memberDuring, from the first day of its start to the first day of its end, half-open) contains
the day, or when it is attested (tg:attestedOn) on a date whose span (time:inXSDDate to
tg:latestDate) contains the day. The view gives an attested membership no date (an attestation is
not a start), so it is compared on periods only.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from treatygraph.core.config import PROJECT_ROOT
from treatygraph.publish.query import execute, open_current_store
from treatygraph.rdf.namespaces import GRAPH_WIKIDATA_VIEW, PQ, PS, WDP, ProjectNamespaces

FIRST, LAST = dt.date(1990, 1, 1), dt.date(2026, 12, 31)
PRECISION_TEXT = {"unitYear": 4, "unitMonth": 7, "unitDay": 10}


def _competency_query(dates: list[dt.date]) -> str:
    """Query 04 for every organization and treaty at once: its dates and its group made variables."""
    text = (PROJECT_ROOT / "queries" / "04-cis-members-on-dates.rq").read_text(encoding="utf-8")
    values = " ".join(f'"{d.isoformat()}"^^xsd:date' for d in dates)
    text, dates_found = re.subn(r"VALUES \?date \{[^}]*\}", f"VALUES ?date {{ {values} }}", text)
    text, group_found = re.subn(
        r"\?membership org:organization <organization/cis> ;",
        "VALUES ?in { org:organization tg:treaty } ?membership ?in ?group ;",
        text,
    )
    assert dates_found == group_found == 1, "query 04 no longer has the shape this test widens"
    return text.replace("SELECT ?date ?state", "SELECT ?group ?date ?state", 1)


def _grid(boundaries: set[dt.date]) -> list[dt.date]:
    """About 300 days spread over the years the data covers, and each boundary and the day before."""
    step = (LAST - FIRST) / 299
    days = {FIRST + step * i for i in range(300)}
    days |= {d for b in boundaries for d in (b, b - dt.timedelta(days=1))}
    return sorted(d for d in days if FIRST <= d <= LAST)


def _last_day(first: dt.date, precision: str) -> dt.date:
    if precision == "unitYear":
        return dt.date(first.year, 12, 31)
    if precision == "unitMonth":
        following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return following - dt.timedelta(days=1)
    return first


def _in_effect(start, end, day) -> bool:
    return start is not None and start <= day and (end is None or day < end)


VIEW_MEMBERSHIPS = """SELECT ?member ?group ?start ?end WHERE { GRAPH <VIEW> {
  ?member p:P463 ?statement . ?statement ps:P463 ?group ; pq:P580 ?start .
  OPTIONAL { ?statement pq:P582 ?end }
  FILTER NOT EXISTS { ?statement pq:P2868 ?role }
} }"""


@pytest.fixture(scope="module")
def timelines(app):
    """Each group's full members as its page draws them: (group, member) -> [(start, end, attested
    span)], the span only for a membership known by the day it is attested on."""
    from server.catalog import catalog
    from server.timeline import membership_timelines

    periods: dict[tuple[str, str], list] = {}
    with app.test_request_context("/"):
        pages = catalog()
        groups = pages.query(
            "SELECT DISTINCT ?g WHERE { { ?m org:organization ?g } UNION { ?m tg:treaty ?g } }"
        )
        for group in sorted(r["g"].value for r in groups):
            for timeline in membership_timelines(pages, group):
                if timeline.key != "members":
                    continue
                for row in timeline.rows:
                    for period in row.periods:
                        if not period.role.endswith("/MemberRole"):
                            continue
                        span = None
                        if period.start is None and period.attested is not None:
                            facts = pages.membership(period.membership)
                            unit = facts.attested.precision.value.rsplit("#", 1)[-1]
                            span = (period.attested, _last_day(period.attested, unit))
                        periods.setdefault((group, row.iri), []).append(
                            (period.start, period.end, span)
                        )
    return periods


def test_timelines_competency_query_and_view_agree_on_a_grid_of_days(config, built, timelines):
    ns = ProjectNamespaces(config.base_iri)
    store = open_current_store(config)
    boundaries = {d for spans in timelines.values() for s, e, _ in spans for d in (s, e) if d}
    boundaries |= {d for spans in timelines.values() for _, _, a in spans if a for d in a}
    days = _grid(boundaries)
    assert len(days) >= 300

    from_query = {
        (row["group"].value, dt.date.fromisoformat(row["date"].value), row["state"].value)
        for row in execute(store, ns.rebase(_competency_query(days)), ns)
    }
    from_pages = {
        (group, day, member)
        for (group, member), spans in timelines.items()
        for day in days
        for start, end, attested in spans
        if _in_effect(start, end, day) or (attested and attested[0] <= day <= attested[1])
    }
    assert len(from_pages) > 1000, "the pages show too few memberships for the grid to test much"
    assert from_query == from_pages, (
        f"query only: {sorted(from_query - from_pages)[:10]}\n"
        f"pages only: {sorted(from_pages - from_query)[:10]}"
    )

    view_text = VIEW_MEMBERSHIPS.replace("VIEW", ns.graph(GRAPH_WIKIDATA_VIEW))
    prefixes = f"PREFIX p: <{WDP}> PREFIX ps: <{PS}> PREFIX pq: <{PQ}>\n"
    from_view = set()
    for row in execute(store, prefixes + view_text, ns):
        start = dt.date.fromisoformat(row["start"].value[:10])
        end = dt.date.fromisoformat(row["end"].value[:10]) if row["end"] else None
        member, group = row["member"].value, row["group"].value
        from_view |= {(group, day, member) for day in days if _in_effect(start, end, day)}
    from_periods = {
        (group, day, member)
        for (group, member), spans in timelines.items()
        for day in days
        for start, end, _ in spans
        if _in_effect(start, end, day)
    }
    assert from_view == from_periods, (
        f"view only: {sorted(from_view - from_periods)[:10]}\n"
        f"pages only: {sorted(from_periods - from_view)[:10]}"
    )


def test_the_grid_covers_the_treaty_and_the_organizations(timelines):
    groups = {group.rsplit("/id/", 1)[1] for group, _ in timelines}
    assert {"treaty/collective-security-treaty", "organization/csto", "organization/cis"} <= groups
    cst = {m.rsplit("/", 1)[1] for g, m in timelines if g.endswith("collective-security-treaty")}
    assert len(cst) == 9, cst
