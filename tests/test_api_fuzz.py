"""Property-based fuzzing of the running gate service against its own OpenAPI schema (Schemathesis: valid and
invalid cases for every operation, with an admin key), on SQLite and PostgreSQL: no answer is a 5xx, no connection is
dropped, and nothing escapes the app. benchmarks/service_fuzz.py runs the long version."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from service_fixtures import Server, fuzz_cases, start_server

from facegate.api.auth import create_key
from facegate.gallery import open_gallery

schemathesis = pytest.importorskip("schemathesis", reason="Schemathesis is not installed (the test extra)")
hypothesis = pytest.importorskip("hypothesis")

EXAMPLES = 500  # about 20 s on a 2-core machine; benchmarks/service_fuzz.py sends 10,000


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[Server, str, int]]:
    key, info = create_key(open_gallery(db_url), "admin", "fuzzer")
    server = start_server(db_url, tmp_path / "server.log")
    yield server, key, info.id
    server.stop()


@pytest.mark.slow
def test_fuzzed_requests_never_get_a_5xx_or_a_dropped_connection(served: tuple[Server, str, int]) -> None:
    server, key, key_id = served
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    session = requests.Session()  # one keep-alive connection: a dropped one shows as `Connection: close`

    @hypothesis.given(case=fuzz_cases(server.url, key_id))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def send(case: schemathesis.Case) -> None:
        case.headers = {**(case.headers or {}), "X-API-Key": key}
        response = case.call(base_url=server.url, session=session, timeout=60)
        statuses[response.status_code] += 1
        if response.status_code >= 500 or response.headers.get("connection", "").lower() == "close":
            failures.append(f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}")

    send()
    assert sum(statuses.values()) >= EXAMPLES * 0.9 and failures == [], (statuses, failures[:10])
    assert "Exception in ASGI application" not in server.log.read_text()
