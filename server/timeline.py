"""Membership timelines, drawn as SVG on the server: the members of an organization or treaty, and
the memberships of a state (or of an organization that is a member of something).

One row per member (or per organization and treaty), one bar per membership period coloured by its
role (member, suspended, observer, partner), and event marks (accessions, suspensions,
withdrawals…) on their row or, for events of the whole organization, on a row of its own. A period
with no known end is drawn only up to the last day a source shows it in force (the latest
`tg:inForceOn` of its claims, or its start), then fades: a bar up to the build date would claim
years nobody attested. The table under the drawing gives each period its quotes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from treatygraph.core.dates import format_date

from .catalog import Catalog, Instant, MembershipFacts, QuotedClaim

_NO_DATE = Instant(None, None, None)
TIME = "http://www.w3.org/2006/time#"
BEGINNING, END = TIME + "hasBeginning", TIME + "hasEnd"

ROLE_STYLES = {
    "MemberRole": ("member", "role-member"),
    "SuspendedMemberRole": ("suspended", "role-suspended"),
    "ObserverRole": ("observer", "role-observer"),
    "PartnerRole": ("partner", "role-partner"),
}
PRECISION_RANK = {"unitYear": 0, "unitMonth": 1, "unitDay": 2}
LABEL_WIDTH = 190
WIDTH = 960
ROW = 30
AXIS = 34
PAD_RIGHT = 24
FADE = 36  # pixels of fading bar past the last attested day
ROW_LABEL_CHARS = 26  # longer names give way to the short name (CSTO)


@dataclass
class Quote:
    """A quote shown with a period, and what it is shown for (start, end, last attested…)."""

    claim: str
    text: str
    source: str
    source_name: str  # "source 004"
    source_title: str
    source_href: str | None
    shows: list[str] = field(default_factory=list)


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
    last_seen: dt.date | None = None  # open-ended: the last day a source shows it in force
    last_seen_text: str = ""
    last_seen_by: str = ""  # the source that shows it then, "source 004"
    quotes: list[Quote] = field(default_factory=list)
    claims_total: int = 0

    @property
    def open_note(self) -> str:
        """`no end known; last attested 2 December 2020 (source 004)`."""
        return f"no end known; last attested {self.last_seen_text} ({self.last_seen_by})"


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


# A treaty's status table, as a depositary lists it: one column per kind of treaty action.
STATUS_COLUMNS = (
    ("Signature", ("signature",)),
    ("Ratification, accession", ("ratification", "accession")),
    ("Entry into force", ("entry into force",)),
    ("Renewal", ("renewal",)),
    ("Non-renewal, withdrawal", ("non-renewal", "withdrawal", "denunciation")),
    ("Suspension", ("suspension", "return")),
)


@dataclass
class StatusRow:
    """A participant of a treaty and its actions, column by column (`STATUS_COLUMNS`)."""

    label: str
    href: str | None
    party: str
    actions: list[list[tuple[EventMark, str]]]  # per column: the action and how it reads there


@dataclass
class Timeline:
    key: str  # "members" or "memberships": keeps the ids of two timelines on one page apart
    title: str
    svg_title: str
    row_header: str
    rows: list[Row]
    whole: Row | None
    start_year: int
    end_year: int
    svg: dict
    treaty: bool = False  # the rows are a treaty's parties: a status table goes with the drawing

    @property
    def status_columns(self) -> list[str]:
        return [name for name, _ in STATUS_COLUMNS]

    @property
    def status(self) -> list[StatusRow]:
        """The treaty's status table: each participant's actions by kind, and its periods as a
        party ("20 April 1994 to 20 April 1999", "from 20 April 1994")."""
        table = []
        for row in self.rows:
            party = "; ".join(
                f"{p.start_text} to {p.end_text}" if p.end_text else f"from {p.start_text}"
                for p in row.periods
                if p.start and p.css == "role-member"
            )
            actions = [
                [
                    (e, f"{e.kind}, {e.date_text}" if len(kinds) > 1 else e.date_text)
                    for e in row.events
                    if e.kind in kinds
                ]
                for _, kinds in STATUS_COLUMNS
            ]
            table.append(StatusRow(row.label, row.href, party, actions))
        return table

    @property
    def has_sightings(self) -> bool:
        return any(p.start is None and p.attested for r in self.rows for p in r.periods)

    @property
    def has_open_periods(self) -> bool:
        return any(p.start and not p.end and p.last_seen for r in self.rows for p in r.periods)

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


def _instant_key(instant: Instant) -> tuple:
    """Later days first; on the same first day, the finer precision says more."""
    precision = instant.precision.value.rsplit("#", 1)[-1] if instant.precision else "unitDay"
    return (_date(instant.date) or dt.date.min, PRECISION_RANK.get(precision, 2))


def membership_timelines(catalog: Catalog, iri: str) -> list[Timeline]:
    """The timeline of the members of `iri` (an organization or treaty) and that of the
    memberships of `iri` (a state, or an organization in another), those that have any."""
    found = []
    members = _timeline(
        catalog,
        iri,
        catalog.memberships_in(iri),
        by_member=True,
        key="members",
        title="Membership over time",
        svg_title=f"Membership timeline of {catalog.label(iri)}",
        row_header="Member",
    )
    if members:
        members.treaty = catalog.tg + "Treaty" in catalog.types_of(iri)
        found.append(members)
    memberships = _timeline(
        catalog,
        iri,
        catalog.memberships_of(iri),
        by_member=False,
        key="memberships",
        title=f"Memberships of {catalog.short(iri)} over time",
        svg_title=f"Memberships of {catalog.label(iri)} over time",
        row_header="In",
    )
    if memberships:
        found.append(memberships)
    return found


def _timeline(
    catalog: Catalog,
    iri: str,
    memberships: list[str],
    by_member: bool,
    key: str,
    title: str,
    svg_title: str,
    row_header: str,
) -> Timeline | None:
    """One row per member of `iri` (`by_member`), or per organization or treaty `iri` is in."""
    claims = catalog.membership_claims(memberships)
    rows: dict[str, Row] = {}
    for membership in memberships:
        facts = catalog.membership(membership)
        if facts is None:
            continue
        other = facts.member if by_member else facts.group
        if other is None:
            continue
        row = rows.get(other)
        if row is None:
            name = catalog.label(other)
            row = rows[other] = Row(other, name, catalog.href(other))
            if len(name) > ROW_LABEL_CHARS:
                row.svg_label = catalog.short(other)
        row.periods.append(_period(catalog, membership, facts, claims[membership]))
    if not rows:
        return None
    whole = None
    if by_member:
        kinds = [catalog.label(t) for t in catalog.types_of(iri)]
        whole = Row(iri, f"the {kinds[0] if kinds else 'whole'} as a whole", None)
    _place_events(catalog, iri, by_member, rows, whole)
    ordered = sorted(rows.values(), key=lambda row: (row.first_date(), row.label))
    for row in ordered:
        row.periods.sort(key=lambda p: p.start or p.attested or dt.date.max)
        row.events.sort(key=lambda e: e.date)
    dates = [d for row in ordered for p in row.periods for d in (p.start, p.end, p.attested) if d]
    dates += [p.last_seen for row in ordered for p in row.periods if p.last_seen]
    dates += [e.date for row in [*ordered, *([whole] if whole else [])] for e in row.events]
    start_year = min(d.year for d in dates)
    end_year = max(d.year for d in dates) + 1
    timeline = Timeline(
        key,
        title,
        svg_title,
        row_header,
        ordered,
        whole if whole and whole.events else None,
        start_year,
        end_year,
        {},
    )
    timeline.svg = _layout(timeline)
    return timeline


def _period(
    catalog: Catalog, membership: str, facts: MembershipFacts, claims: list[QuotedClaim]
) -> Period:
    role_iri = facts.role or ""
    local = role_iri.rsplit("/", 1)[-1]
    role_label, css = ROLE_STYLES.get(local, (catalog.label(role_iri) or "member", "role-other"))
    start, end, seen = (facts.start or _NO_DATE, facts.end or _NO_DATE, facts.attested or _NO_DATE)
    period = Period(
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
        claims_total=len(claims),
    )
    quotes: dict[str, Quote] = {}

    def show(claim: QuotedClaim, what: str) -> None:
        if claim.iri not in quotes:
            quotes[claim.iri] = Quote(
                claim.iri,
                claim.quote,
                claim.source,
                catalog.source_name(claim.source),
                catalog.label(claim.source),
                catalog.href(claim.source),
            )
        if what not in quotes[claim.iri].shows:
            quotes[claim.iri].shows.append(what)

    whole_record = [c for c in claims if not c.supports]
    if period.start:
        for claim in [c for c in claims if BEGINNING in c.supports] + whole_record:
            show(claim, "start")
    if period.end:
        for claim in [c for c in claims if END in c.supports] + whole_record:
            show(claim, "end")
    if period.attested:
        for claim in [c for c in claims if catalog.tg + "attestedOn" in c.supports]:
            show(claim, f"shown on {period.attested_text}")
    if period.start and not period.end:
        _last_seen(catalog, period, start, claims, show)
    if not quotes and claims:
        show(claims[0], "the membership")
    period.quotes = list(quotes.values())
    return period


def _last_seen(catalog: Catalog, period: Period, start: Instant, claims, show) -> None:
    """The last day a source shows an open-ended period in force: the latest tg:inForceOn of its
    claims, or its start, with the quote that shows it."""
    in_force = [c for c in claims if c.in_force is not None and c.in_force.date is not None]
    if in_force:
        latest = max(in_force, key=lambda c: _instant_key(c.in_force))
        if _instant_key(latest.in_force) >= _instant_key(start):
            period.last_seen = _date(latest.in_force.date)
            period.last_seen_text = _text(latest.in_force.date, latest.in_force.precision)
            period.last_seen_by = catalog.source_name(latest.source)
            show(latest, "last attested")
            return
    period.last_seen = period.start
    period.last_seen_text = f"at its start, {period.start_text}"
    starting = [c for c in claims if BEGINNING in c.supports or not c.supports] or claims
    period.last_seen_by = catalog.source_name(starting[0].source) if starting else "no source"


def _place_events(
    catalog: Catalog, iri: str, by_member: bool, rows: dict[str, Row], whole: Row | None
) -> None:
    """Events of the memberships on their rows; events of the organization as a whole on its own."""
    node = f"<{iri}>"
    # The date patterns sit inside each branch: joined after the UNION, Oxigraph scans every dated thing.
    if by_member:
        events = catalog.query(
            f"""SELECT DISTINCT ?ev ?date ?p ?row WHERE {{
                  {{ {{ ?m org:organization {node} }} UNION {{ ?m tg:treaty {node} }}
                     ?ev tg:affectsMembership ?m . ?m org:member ?row .
                     ?ev time:hasTime ?t . ?t time:inXSDDate ?date . OPTIONAL {{ ?t tg:datePrecision ?p }} }}
                  UNION
                  {{ ?ev tg:concerns {node} . ?ev time:hasTime ?t . ?t time:inXSDDate ?date .
                     OPTIONAL {{ ?t tg:datePrecision ?p }} OPTIONAL {{ ?ev tg:agent ?row }} }}
                }}"""
        )
    else:
        events = catalog.query(
            f"""SELECT DISTINCT ?ev ?date ?p ?row WHERE {{
                  ?m org:member {node} . {{ ?m org:organization ?row }} UNION {{ ?m tg:treaty ?row }}
                  ?ev tg:affectsMembership ?m .
                  ?ev time:hasTime ?t . ?t time:inXSDDate ?date . OPTIONAL {{ ?t tg:datePrecision ?p }}
                }}"""
        )
    placed: set[tuple[str, str]] = set()
    for r in events:
        date = _date(r["date"])
        if date is None:
            continue
        row = rows.get(r["row"].value) if r["row"] else None
        target = row or whole
        if target is None:
            continue
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


def _layout(timeline: Timeline) -> dict:
    """Pixel positions for the template: axis ticks, bars, fading ends and marks."""
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
            finish = period.end or period.last_seen or period.start
            width = max(x(finish) - x(period.start), 3)
            bars.append(
                {
                    "x": x(period.start),
                    "width": width,
                    "y": y + 7,
                    "period": period,
                    "open": open_ended,
                    "fade_x": x(period.start) + width,
                    "fade_width": min(FADE, WIDTH - x(period.start) - width),
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
        "row_height": ROW,
        "axis": AXIS,
    }
