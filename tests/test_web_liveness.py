"""A photo held up to a gate that asks for the head-turn challenge (FACEGATE_LIVENESS=challenge) does not open it: in
real headless Chromium, the live view's fake camera shows a photo of an enrolled person for 10 s; the page shows the
challenge's instruction, and nobody is named on the page or in the gate's access events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_fixtures import PER_PERSON, Server, enroll_all, start_server, wait_fitted
from test_web import camera_flags, open_page, playwright_api

from facegate.api.auth import create_key
from facegate.gallery import open_gallery


@pytest.fixture(scope="module")
def guarded(
    enrollable: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, str]]:
    """A server whose gates all ask for the challenge, elton_john enrolled, an admin key of the gate "lobby"."""
    folder = tmp_path_factory.mktemp("web-liveness")
    db = str(folder / "gallery.db")
    key = create_key(open_gallery(db), "admin", "lobby-desk", gate="lobby")[0]
    server = start_server(db, folder / "server.log", env={"FACEGATE_LIVENESS": "challenge"})
    with server.client(key) as client:
        enroll_all(client, {"elton_john": enrollable["elton_john"]})
        wait_fitted(client)
    yield server, key
    server.stop()


def test_a_still_photo_held_to_the_camera_keeps_the_gate_closed(
    guarded: tuple[Server, str], enrollable: dict[str, list[Path]], tmp_path: Path
) -> None:
    server, key = guarded
    camera = camera_flags(enrollable["elton_john"][PER_PERSON], tmp_path)  # a photo of him that is not enrolled
    with playwright_api.sync_playwright() as pw, server.client(key) as client:
        browser, page = open_page(pw, server, key, camera)
        page.click("#live-toggle")
        page.wait_for_selector("#live-names li", timeout=120_000)  # the page sees the face, the gate asks for a turn
        page.wait_for_selector("#liveness:is(.waiting, .turning)", timeout=60_000)
        shown = {page.text_content("#liveness")}
        for _ in range(20):  # 10 s more of the photo
            time.sleep(0.5)
            shown.add(page.text_content("#liveness"))
            assert page.locator("#live-names li.match").count() == 0
        assert "Liveness check passed" not in shown
        assert any(text and text.startswith(("Look straight at the camera", "Turn your head")) for text in shown), shown
        page.click("#live-toggle")
        browser.close()
        events = client.get("/events", params={"gate": "lobby"}).json()
        assert events and all(e["decision"] != "match" for e in events), events
        answer = client.post("/identify", files={"image": ("p.jpg", enrollable["elton_john"][PER_PERSON].read_bytes())})
        assert answer.json()["liveness"] == "required" and answer.json()["faces"][0]["name"] == "unknown"
