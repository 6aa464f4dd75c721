"""/search costs CPU in the web process: its text is capped, and one address runs only a few at
once (issue 20, item 5)."""

from __future__ import annotations

from server.linkeddata import MAX_SEARCH_CHARACTERS, SEARCHES, SEARCHES_PER_CLIENT, SearchSlots


def test_search_text_longer_than_the_cap_is_a_400_naming_q(client):
    response = client.get("/search", query_string={"q": "x" * (MAX_SEARCH_CHARACTERS + 1)})
    assert response.status_code == 400
    assert "`q`" in response.get_data(as_text=True)
    assert client.get("/search", query_string={"q": "Armenia"}).status_code == 200


def test_one_address_runs_only_a_few_searches_at_once(app, client):
    slots = app.extensions.setdefault(SEARCHES, SearchSlots())
    held = [slots.slot("127.0.0.1") for _ in range(SEARCHES_PER_CLIENT)]
    assert all(hold.__enter__() for hold in held)
    try:
        busy = client.get("/search", query_string={"q": "Armenia"})
        assert busy.status_code == 429
        assert busy.headers["Retry-After"] == "1"
        other = client.get(
            "/search", query_string={"q": "Armenia"}, environ_base={"REMOTE_ADDR": "127.0.0.9"}
        )
        assert other.status_code == 200
    finally:
        for hold in held:
            hold.__exit__(None, None, None)
    assert client.get("/search", query_string={"q": "Armenia"}).status_code == 200
