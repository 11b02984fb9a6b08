"""Headless Chromium for the page and video tests: Debian's /usr/bin/chromium, started so that it stays off the
network (this machine has none) and leaves no profile behind."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING = "Chromium missing at /usr/bin/chromium: run .ci/system-deps.sh as root"
