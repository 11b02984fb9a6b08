"""One access event per passage from the web page's live view, in real headless Chromium with a fake camera: a person
held in front of the camera for 10 s is one event, and coming back after leaving is a second one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_fixtures import PER_PERSON, Server, enroll_all, start_server, wait_fitted
from test_web import camera_flags, open_page, playwright_api

from facegate.api.auth import create_key
from facegate.gallery import open_gallery

EXPIRY_S = 3  # FACEGATE_PASSAGE_S of this test's server: out of view longer than this is a new passage


@pytest.fixture(scope="module")
def lobby(enrollable: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A server with elton_john enrolled and an admin key that belongs to the gate "lobby"."""
    folder = tmp_path_factory.mktemp("web-passages")
    db = str(folder / "gallery.db")
    key = create_key(open_gallery(db), "admin", "lobby-desk", gate="lobby")[0]
    server = start_server(db, folder / "server.log", env={"FACEGATE_PASSAGE_S": str(EXPIRY_S)})
    with server.client(key) as client:
        enroll_all(client, {"elton_john": enrollable["elton_john"]})
        wait_fitted(client)
    yield server, key
    server.stop()


def hold_in_view(page: object, seconds: float) -> None:
    """Start the camera, wait until the page names the person, keep them in view `seconds` longer, stop."""
    page.click("#live-toggle")
    page.wait_for_selector("#live-names li.match:has-text('elton_john')", timeout=120_000)
    time.sleep(seconds)  # the page keeps sending frames meanwhile
    page.click("#live-toggle")


def test_a_person_held_in_front_of_the_camera_is_one_event_and_a_return_is_another(
    lobby: tuple[Server, str], enrollable: dict[str, list[Path]], tmp_path: Path
) -> None:
    server, key = lobby
    camera = camera_flags(enrollable["elton_john"][PER_PERSON], tmp_path)  # a photo of him that is not enrolled
    with playwright_api.sync_playwright() as pw, server.client(key) as client:
        browser, page = open_page(pw, server, key, camera)
        hold_in_view(page, 10)
        first = client.get("/events", params={"gate": "lobby"}).json()
        assert len(first) == 1, first
        assert (first[0]["name"], first[0]["decision"]) == ("elton_john", "match") and first[0]["frames"] >= 5
        time.sleep(EXPIRY_S + 2)  # he walks away
        hold_in_view(page, 2)
        browser.close()
        events = client.get("/events", params={"gate": "lobby"}).json()
    assert len(events) == 2 and events[1]["id"] == first[0]["id"], events
    assert [e["name"] for e in events] == ["elton_john", "elton_john"]
