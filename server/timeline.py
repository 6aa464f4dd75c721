"""The membership timeline of an organization or treaty, drawn as SVG on the server.

One row per member, one bar per membership period coloured by its role (member, suspended, observer,
partner), open-ended periods running to the build date, and event marks (accessions, suspensions,
withdrawals…) on the member's row or, for events of the whole organization, on a row of its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .catalog import Catalog, Instant
from .describe import format_date

_NO_DATE = Instant(None, None, None)

ROLE_STYLES = {
    "MemberRole": ("member", "role-member"),
    "SuspendedMemberRole": ("suspended", "role-suspended"),
    "ObserverRole": ("observer", "role-observer"),
    "PartnerRole": ("partner", "role-partner"),
}
LABEL_WIDTH = 190
WIDTH = 960
ROW = 30
AXIS = 34
PAD_RIGHT = 24
ROW_LABEL_CHARS = 26  # longer names give way to the short name (CSTO)


@dataclass
class Period:
    membership: str
    role: str
    role_label: str
    css: str
    start: dt.date | None
    start_text: str
    end: dt.date | None
    end_text: str
    inferred: bool = False
    attested: dt.date | None = None  # no period known: the sources show the membership on this day
    attested_text: str = ""


@dataclass
class EventMark:
    iri: str
    label: str
    kind: str
    date: dt.date
    date_text: str


@dataclass
class Row:
    iri: str
    label: str
    href: str | None
    periods: list[Period] = field(default_factory=list)
    events: list[EventMark] = field(default_factory=list)
    svg_label: str = ""  # the name in the drawing, where room is short

    def first_date(self) -> dt.date:
        """When the member first joined in any role (events only when no period has a start)."""
        starts = [p.start or p.attested for p in self.periods if p.start or p.attested]
        dates = starts or [e.date for e in self.events]
        return min(dates) if dates else dt.date.max


@dataclass
class Timeline:
    rows: list[Row]
    whole: Row | None
    start_year: int
    end_year: int
    until: dt.date
    svg: dict

    @property
    def has_sightings(self) -> bool:
        return any(p.start is None and p.attested for r in self.rows for p in r.periods)

    @property
    def roles(self) -> list[tuple[str, str]]:
        seen = {(p.role_label, p.css) for r in self.rows for p in r.periods}
        return [v for v in ROLE_STYLES.values() if v in seen]


def _date(term) -> dt.date | None:
    if term is None:
        return None
    try:
        return dt.date.fromisoformat(term.value[:10])
    except ValueError:
        return None


def _text(date_term, precision_term) -> str:
    if date_term is None:
        return ""
    return format_date(date_term.value, precision_term.value if precision_term else None)


def membership_timeline(catalog: Catalog, iri: str, until: dt.date) -> Timeline | None:
    """The timeline of the memberships in `iri` (org:organization or tg:treaty), or None if none."""
    rows: dict[str, Row] = {}
    for membership in catalog.memberships_in(iri):
        facts = catalog.membership(membership)
        if facts is None:
            continue
        member = facts.member
        row = rows.get(member)
        if row is None:
            name = catalog.label(member)
            row = rows[member] = Row(member, name, catalog.href(member))
            if len(name) > ROW_LABEL_CHARS:
                row.svg_label = catalog.short(member)
        role_iri = facts.role or ""
        local = role_iri.rsplit("/", 1)[-1]
        role_label, css = ROLE_STYLES.get(
            local, (catalog.label(role_iri) or "member", "role-other")
        )
        start, end, seen = (
            facts.start or _NO_DATE,
            facts.end or _NO_DATE,
            facts.attested or _NO_DATE,
        )
        row.periods.append(
            Period(
                membership=membership,
                role=role_iri,
                role_label=role_label,
                css=css,
                start=_date(start.date),
                start_text=_text(start.date, start.precision),
                end=_date(end.date),
                end_text=_text(end.date, end.precision),
                inferred=bool((start.date and start.inference) or (end.date and end.inference)),
                attested=_date(seen.date),
                attested_text=_text(seen.date, seen.precision),
            )
        )
    if not rows:
        return None
    kinds = [catalog.label(t) for t in catalog.types_of(iri)]
    whole = Row(iri, f"the {kinds[0] if kinds else 'whole'} as a whole", None)
    # The date patterns sit inside each branch: joined after the UNION, Oxigraph scans every dated thing.
    events = catalog.query(
        f"""SELECT DISTINCT ?ev ?date ?p ?member WHERE {{
              {{ {{ ?m org:organization <{iri}> }} UNION {{ ?m tg:treaty <{iri}> }}
                 ?ev tg:affectsMembership ?m . ?m org:member ?member .
                 ?ev time:hasTime ?t . ?t time:inXSDDate ?date . OPTIONAL {{ ?t tg:datePrecision ?p }} }}
              UNION
              {{ ?ev tg:concerns <{iri}> . ?ev time:hasTime ?t . ?t time:inXSDDate ?date .
                 OPTIONAL {{ ?t tg:datePrecision ?p }} OPTIONAL {{ ?ev tg:agent ?member }} }}
            }}"""
    )
    placed: set[tuple[str, str]] = set()
    for r in events:
        date = _date(r["date"])
        if date is None:
            continue
        member = r["member"].value if r["member"] else None
        row = rows.get(member) if member else None
        target = row or whole
        key = (r["ev"].value, target.iri)
        if key in placed:
            continue
        placed.add(key)
        event_types = catalog.types_of(r["ev"].value)
        kind = next((catalog.label(t) for t in event_types), "event")
        target.events.append(
            EventMark(
                r["ev"].value, catalog.label(r["ev"].value), kind, date, _text(r["date"], r["p"])
            )
        )
    ordered = sorted(rows.values(), key=lambda row: (row.first_date(), row.label))
    for row in ordered:
        row.periods.sort(key=lambda p: p.start or p.attested or dt.date.max)
        row.events.sort(key=lambda e: e.date)
    dates = [p.start for row in ordered for p in row.periods if p.start]
    dates += [p.end for row in ordered for p in row.periods if p.end]
    dates += [p.attested for row in ordered for p in row.periods if p.attested]
    dates += [e.date for row in [*ordered, whole] for e in row.events]
    start_year = min(d.year for d in dates) if dates else until.year - 1
    end_year = max([until.year, *(d.year for d in dates)]) + 1
    timeline = Timeline(ordered, whole if whole.events else None, start_year, end_year, until, {})
    timeline.svg = _layout(timeline)
    return timeline


def _layout(timeline: Timeline) -> dict:
    """Pixel positions for the template: axis ticks, bars and marks."""
    start = dt.date(timeline.start_year, 1, 1)
    end = dt.date(timeline.end_year, 1, 1)
    span = (end - start).days or 1
    plot = WIDTH - LABEL_WIDTH - PAD_RIGHT

    def x(date: dt.date) -> float:
        return round(LABEL_WIDTH + plot * (date - start).days / span, 1)

    years = timeline.end_year - timeline.start_year
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100) if years / s <= 14)
    labelled = [y for y in range(timeline.start_year, timeline.end_year + 1) if y % step == 0]
    if not labelled or labelled[0] - timeline.start_year > step / 2:
        labelled.insert(0, timeline.start_year)
    ticks = [{"x": x(dt.date(year, 1, 1)), "year": year} for year in labelled]
    rows = ([timeline.whole] if timeline.whole else []) + timeline.rows
    laid = []
    for index, row in enumerate(rows):
        y = AXIS + index * ROW
        bars = []
        sightings = [
            {"x": x(p.attested), "y": y + ROW / 2, "period": p}
            for p in row.periods
            if p.start is None and p.attested
        ]
        for period in row.periods:
            if period.start is None:
                continue
            open_ended = period.end is None
            finish = period.end or timeline.until
            bars.append(
                {
                    "x": x(period.start),
                    "width": max(x(finish) - x(period.start), 3),
                    "y": y + 7,
                    "period": period,
                    "open": open_ended,
                }
            )
        marks = [{"x": x(e.date), "y": y + ROW / 2, "event": e} for e in row.events]
        laid.append({"y": y, "row": row, "bars": bars, "marks": marks, "sightings": sightings})
    height = AXIS + len(rows) * ROW + 10
    return {
        "width": WIDTH,
        "height": height,
        "label_width": LABEL_WIDTH,
        "ticks": ticks,
        "rows": laid,
        "today": x(timeline.until),
        "row_height": ROW,
        "axis": AXIS,
    }
