"""The catalog's membership facts: read in one query per page, the same as read one by one."""

from __future__ import annotations

import pyoxigraph as ox

from server.builds import BuildHandle
from server.catalog import Catalog, Remembered

ORG = "http://www.w3.org/ns/org#"


def test_remembered_forgets_the_oldest_past_its_size():
    kept = Remembered(3)
    for key in "abcde":
        kept[key] = key.upper()
    assert list(kept) == ["c", "d", "e"]
    kept["c"] = "again"
    assert len(kept) == 3


def test_memberships_read_together_are_the_ones_read_one_by_one(config, built):
    build = BuildHandle(config).get()
    memberships = {
        q.subject.value
        for q in build.store.quads_for_pattern(None, ox.NamedNode(ORG + "member"), None, None)
    }
    groups = {Catalog(build).membership(m).group for m in memberships} - {None}
    members = {Catalog(build).membership(m).member for m in memberships}
    assert len(groups) > 3 and len(members) > 5
    together = Catalog(build)
    seen = set()
    for group in groups:
        seen.update(together.memberships_in(group))
    for member in members:
        seen.update(together.memberships_of(member))
    assert seen == memberships
    for membership in memberships:
        alone = Catalog(build)
        assert together.membership(membership) == alone.membership(membership), membership
        assert together.label(membership) == alone.label(membership)
