"""The web page in real headless Chromium (Debian's package, driven by Playwright): photos dropped on the page are
enrolled with a verdict each, the gallery shows thumbnails, and the live view names the person a fake camera shows."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest
from browser import CHROMIUM, FLAGS, MISSING
from service_fixtures import PER_PERSON, Server, enroll_all, start_server, wait_fitted

from facegate.api.auth import create_key
from facegate.gallery import open_gallery
from facegate.imageio import letterbox

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
if not CHROMIUM.exists():
    pytest.skip(MISSING, allow_module_level=True)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: $FACEGATE_SCREENSHOTS when set (to look at them), else the test's temp folder."""
    folder = Path(os.environ.get("FACEGATE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def served(enrollable: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """The service with four celebrities enrolled (madonna is left for the drop test)."""
    folder = tmp_path_factory.mktemp("web")
    db = str(folder / "gallery.db")
    key = create_key(open_gallery(db), "admin", "browser")[0]
    server = start_server(db, folder / "server.log")
    with server.client(key) as client:
        enroll_all(client, {n: p for n, p in enrollable.items() if n != "madonna"})
    yield server, key
    server.stop()


def write_y4m(photo: Path, path: Path, frames: int = 5) -> None:
    """A 640×480 Y4M (I420) clip of the photo, letterboxed: Chromium's fake camera plays it in a loop."""
    image = cv2.imread(str(photo))
    canvas = letterbox(image, 640, 480)
    frame = cv2.cvtColor(canvas, cv2.COLOR_BGR2YUV_I420).tobytes()
    with path.open("wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F5:1 Ip A1:1 C420jpeg\n")
        for _ in range(frames):
            out.write(b"FRAME\n" + frame)


def camera_flags(photo: Path, folder: Path) -> list[str]:
    """Chromium flags for a fake camera that shows `photo` (a Y4M clip written in `folder`), with no prompt."""
    video = folder / "camera.y4m"
    write_y4m(photo, video)
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]


def wait_until(page: object, expression: str, timeout_s: float = 120) -> None:
    """Poll a JavaScript expression until it is true (wait_for_function evaluates strings, which the page's Content
    Security Policy forbids; page.evaluate goes through the DevTools protocol instead)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {expression}"
        time.sleep(0.2)


def open_page(pw: object, server: Server, key: str, extra_args: list[str] = ()) -> object:
    browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=[*FLAGS, *extra_args])
    page = browser.new_page(viewport={"width": 1100, "height": 760})
    page.set_default_timeout(120_000)  # a 2-core CI machine identifying with a cold model can take a while
    page.goto(server.url + "/")
    page.fill("#api-key", key)
    page.click("#key-form button")
    page.wait_for_selector("#key-status:has-text('gallery')")
    return browser, page


def test_drop_photos_to_enroll_then_see_the_gallery(
    served: tuple[Server, str], enrollable: dict[str, list[Path]], shots: Path
) -> None:
    server, key = served
    photos = enrollable["madonna"][:PER_PERSON]
    with playwright_api.sync_playwright() as pw:
        browser, page = open_page(pw, server, key)
        page.click("button[data-tab=enroll]")
        page.fill("#enroll-name", "madonna")
        files = [{"name": p.name, "data": base64.b64encode(p.read_bytes()).decode()} for p in photos]
        files.append(
            {
                "name": "not-a-face.jpg",
                "data": base64.b64encode(
                    cv2.imencode(".jpg", np.full((200, 200, 3), 90, np.uint8))[1].tobytes()
                ).decode(),
            }
        )
        transfer = page.evaluate_handle(
            """files => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.data), c => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, { type: "image/jpeg" }));
            }
            return dt;
        }""",
            files,
        )
        page.dispatch_event("#drop-zone", "drop", {"dataTransfer": transfer})
        wait_until(
            page,
            "document.querySelectorAll('#enroll-results li[data-status=pending]').length === 0"
            " && document.querySelectorAll('#enroll-results li').length === 4",
            timeout_s=300,
        )
        assert page.locator("#enroll-results li[data-status=accepted]").count() == PER_PERSON
        refused = page.locator("#enroll-results li[data-status=refused]")
        assert refused.count() == 1 and "no face found" in refused.inner_text()
        page.screenshot(path=str(shots / "web-enroll.png"))

        page.click("button[data-tab=gallery]")
        card = page.locator("article[data-person=madonna]")
        card.wait_for()
        wait_until(
            page,
            "[...document.querySelectorAll('.thumbs img')].every(i => i.complete && "
            "i.naturalWidth === 160) && document.querySelectorAll('.thumbs img').length === 15",
        )
        assert card.locator("img").count() == PER_PERSON
        page.screenshot(path=str(shots / "web-gallery.png"))

        page.on("dialog", lambda dialog: dialog.accept())
        page.locator("article[data-person=mindy_kaling] button.danger").click()
        page.wait_for_selector("article[data-person=mindy_kaling]", state="detached")
        assert page.locator(".person-card").count() == 4
        browser.close()


def fake_camera(served: tuple[Server, str], photo: Path, tmp_path: Path) -> list[str]:
    """Chromium flags that show `photo` as the webcam, once the served gallery's identifier is fitted."""
    server, key = served
    with server.client(key) as client:
        wait_fitted(client)
    return camera_flags(photo, tmp_path)


def test_live_camera_names_the_person(
    served: tuple[Server, str], enrollable: dict[str, list[Path]], tmp_path: Path, shots: Path
) -> None:
    server, key = served
    camera = fake_camera(served, enrollable["elton_john"][PER_PERSON], tmp_path)  # a photo not enrolled
    with playwright_api.sync_playwright() as pw:
        browser, page = open_page(pw, server, key, camera)
        page.click("#live-toggle")
        page.wait_for_selector("#live-names li.match:has-text('elton_john')", timeout=120_000)
        page.screenshot(path=str(shots / "web-live.png"))
        page.click("#live-toggle")
        page.click("button[data-tab=events]")
        page.wait_for_selector("#events-table tbody td.match:has-text('match')")
        assert "elton_john" in page.locator("#events-table tbody tr").first.inner_text()
        assert "browser" in page.locator("#events-table tbody tr").first.inner_text()
        browser.close()


def test_live_camera_shows_age_and_gender_when_asked(
    served: tuple[Server, str], enrollable: dict[str, list[Path]], tmp_path: Path, shots: Path
) -> None:
    server, key = served
    camera = fake_camera(served, enrollable["elton_john"][PER_PERSON], tmp_path)
    with playwright_api.sync_playwright() as pw:
        browser, page = open_page(pw, server, key, camera)
        assert "README" in page.locator("label:has(#live-attributes)").get_attribute("title")
        page.check("#live-attributes")
        page.click("#live-toggle")
        name = page.wait_for_selector("#live-names li.match:has-text('elton_john'):has-text('about')", timeout=120_000)
        assert "male, about" in name.inner_text()
        page.screenshot(path=str(shots / "web-live-attributes.png"))
        page.click("#live-toggle")
        browser.close()


def test_docs_render_with_the_network_cut_and_the_key_stays_out_of_local_storage(served: tuple[Server, str]) -> None:
    server, key = served
    blocked: list[str] = []
    complaints: list[str] = []

    def loopback_only(route: object) -> None:
        """Let requests to this machine through; any other (a CDN, web fonts) is aborted and noted."""
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        page = browser.new_page()
        page.route("**/*", loopback_only)
        page.on("console", lambda message: complaints.append(message.text) if message.type == "error" else None)
        page.goto(server.url + "/docs")
        page.wait_for_selector(".swagger-ui .opblock-summary-path[data-path='/identify']", timeout=60_000)
        assert page.locator(".swagger-ui .opblock").count() >= 15
        page.goto(server.url + "/redoc")
        wait_until(page, "document.body.innerText.includes('/people/{person_id}/samples')", timeout_s=60)

        page.goto(server.url + "/")
        page.evaluate("localStorage.setItem('facegate-key', 'left by an older page')")
        page.reload()
        page.fill("#api-key", key)
        page.click("#key-form button")
        page.wait_for_selector("#key-status:has-text('gallery')")
        stored = page.evaluate("[localStorage.getItem('facegate-key'), sessionStorage.getItem('facegate-key')]")
        browser.close()
    assert blocked == [] and stored == [None, key]
    # the policy only ever stopped the outside world (ReDoc's footer logo on its CDN), nothing of this server
    assert not [c for c in complaints if "Content Security Policy" in c and "https://" not in c], complaints
