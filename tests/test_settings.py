"""Settings live in one place: every FACEGATE_* variable is read by facegate.settings and documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import celebrity_photos

from facegate import settings
from facegate.cli import main
from facegate.models import ModelFiles

README = Path(__file__).resolve().parents[1] / "README.md"
SOURCE = Path(settings.__file__).resolve().parent
READS = r"(environ\.get|getenv)\(\s*[\"']FACEGATE_|environ\[[\"']FACEGATE_\w+[\"']\](?!\s*=)"


def test_every_variable_is_documented_and_nothing_else_reads_the_environment() -> None:
    documented = set(re.findall(r"^\| `(FACEGATE_[A-Z_]+)` \|", README.read_text(), re.MULTILINE))
    assert documented == {var for var, _, _ in settings.VARIABLES.values()}
    readers = [str(p.relative_to(SOURCE)) for p in SOURCE.rglob("*.py") if re.search(READS, p.read_text())]
    assert readers == []  # only settings.py reads them, through VARIABLES (cli/common.py sets one from --lfw)


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FACEGATE_HOME", str(tmp_path))
    monkeypatch.setenv("FACEGATE_THREADS", "3")
    monkeypatch.setenv("FACEGATE_MAX_UPLOAD_MB", "")
    now = settings.current()
    assert (now.home, now.threads, now.max_upload_mb, now.max_files) == (tmp_path, 3, 10, 50)


@pytest.mark.parametrize("value", ["0", "-2", "many", "1.5"])
def test_a_bad_value_is_one_clear_error(
    value: str, models: ModelFiles, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FACEGATE_THREADS", value)
    with pytest.raises(settings.SettingsError, match="FACEGATE_THREADS"):
        settings.current()
    assert main(["detect", str(celebrity_photos(models, "val")[0])]) == 2
    assert f"FACEGATE_THREADS={value!r}: expected a whole number" in capsys.readouterr().err


def test_the_gallery_default_follows_facegate_db(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from facegate.gallery.database import normalise_url

    monkeypatch.setenv("FACEGATE_DB", str(tmp_path / "site.db"))
    assert normalise_url(None) == f"sqlite:///{tmp_path / 'site.db'}"
