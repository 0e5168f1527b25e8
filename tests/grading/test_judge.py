from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from introscope.errors import JudgeError
from introscope.grading.judge import (
    RUBRICS,
    Judge,
    JudgeConfig,
    JudgeResult,
    build_prompt,
    parse_verdict,
)
from support import loopback_server

SENTINEL_KEY = "sk-SENTINEL-do-not-leak-8c1f"
KEY_ENV = "INTROSCOPE_TEST_JUDGE_API_KEY"


class _State:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.auth: list[str | None] = []
        self.bodies: list[dict[str, object]] = []
        self.lock = threading.Lock()


STATE = _State()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, status: int, text: str, ctype: str = "application/json") -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        mode = self.path.strip("/").split("/")[0]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with STATE.lock:
            STATE.hits[mode] += 1
            STATE.auth.append(self.headers.get("Authorization"))
            STATE.bodies.append(body)
        if not self.path.endswith("/chat/completions"):
            self._reply(404, '{"error": "not found"}')
            return
        if mode == "ok":
            user = body["messages"][-1]["content"]
            verdict = "YES" if "MAGIC" in user else "NO"
            content = f"The response is considered.\n{verdict}"
        elif mode == "fail500":
            self._reply(500, '{"error": "internal"}')
            return
        elif mode == "bad401":
            self._reply(401, '{"error": "bad key"}')
            return
        elif mode == "slow":
            time.sleep(1.5)
            content = "YES"
        elif mode == "garbage":
            content = "I think the answer is probably yes, maybe."
        elif mode == "notjson":
            self._reply(200, "<html>oops</html>", "text/html")
            return
        else:
            self._reply(404, "{}")
            return
        self._reply(200, json.dumps({"choices": [{"message": {"content": content}}]}))


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with loopback_server(_Handler) as url:
        yield url


@pytest.fixture(autouse=True)
def key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, SENTINEL_KEY)


def make_judge(base: str, mode: str, **kw: object) -> Judge:
    opts: dict[str, object] = {
        "api_key_env": KEY_ENV,
        "timeout_s": 2.0,
        "max_retries": 2,
        "backoff_s": 0.01,
    }
    opts.update(kw)
    return Judge(JudgeConfig(base_url=f"{base}/{mode}", model="judge-test", **opts))  # type: ignore[arg-type]


def test_parse_verdict_is_strict() -> None:
    assert parse_verdict("reasoning\nYES") is True
    assert parse_verdict("reasoning\n  no.  \n") is False
    assert parse_verdict("**YES**") is True
    assert parse_verdict("") is None
    assert parse_verdict("YES, it does") is None
    assert parse_verdict("NO\nmaybe") is None
    assert parse_verdict("Answer: NO") is None


def test_rubrics_and_fields() -> None:
    assert set(RUBRICS) == {
        "affirmative",
        "correct_concept",
        "noticed_first",
        "coherent",
        "apology",
        "mentions_hint",
    }
    text = build_prompt("correct_concept", "I sense {braces}", concept="ocean")
    assert "ocean" in text and "I sense {braces}" in text
    with pytest.raises(JudgeError, match="concept"):
        build_prompt("correct_concept", "x")
    with pytest.raises(JudgeError, match="Unknown"):
        build_prompt("nonsense", "x")


def test_ok_server_yes_no(server: str) -> None:
    with make_judge(server, "ok") as judge:
        yes = judge.grade("I notice an injected thought about MAGIC.", "affirmative")
        no = judge.grade("Nothing unusual.", "affirmative")
        concept = judge.grade("It is about the ocean.", "correct_concept", concept="ocean")
    assert yes == JudgeResult(value=True, error=None, raw=yes.raw, cached=False)
    assert yes.raw.endswith("YES") and yes.as_grade() is True
    assert no.value is False and no.error is None
    assert concept.value is False
    assert STATE.auth[-1] == f"Bearer {SENTINEL_KEY}"
    body = STATE.bodies[-1]
    assert body["temperature"] == 0 and body["model"] == "judge-test"


def test_cache_hit_and_disk_cache(server: str, tmp_path: Path) -> None:
    cache = tmp_path / "judge_cache.jsonl"
    with make_judge(server, "ok", cache_path=cache) as judge:
        first = judge.grade("MAGIC response for cache", "coherent")
        hits = STATE.hits["ok"]
        second = judge.grade("MAGIC response for cache", "coherent")
        assert STATE.hits["ok"] == hits
        assert first.cached is False and second.cached is True
        assert second.value is True
        # different fields -> different key
        judge.grade("MAGIC response for cache", "correct_concept", concept="a")
        assert STATE.hits["ok"] == hits + 1
    # a fresh judge re-uses the on-disk cache
    with make_judge(server, "ok", cache_path=cache) as judge2:
        again = judge2.grade("MAGIC response for cache", "coherent")
    assert again.cached is True and again.value is True
    assert STATE.hits["ok"] == hits + 1
    assert SENTINEL_KEY not in cache.read_text()


def test_server_errors_retried_then_recorded(server: str) -> None:
    before = STATE.hits["fail500"]
    with make_judge(server, "fail500", max_retries=2) as judge:
        res = judge.grade("anything", "affirmative")
    assert res.value is None and res.error is not None and "500" in res.error
    assert STATE.hits["fail500"] - before == 3
    assert res.as_grade() == {"error": res.error}


def test_client_error_not_retried(server: str) -> None:
    before = STATE.hits["bad401"]
    with make_judge(server, "bad401") as judge:
        res = judge.grade("anything", "affirmative")
    assert res.value is None and res.error is not None and "401" in res.error
    assert STATE.hits["bad401"] - before == 1


def test_timeout(server: str) -> None:
    t0 = time.monotonic()
    with make_judge(server, "slow", timeout_s=0.5, max_retries=1) as judge:
        res = judge.grade("anything", "affirmative")
    assert time.monotonic() - t0 < 3.0
    assert res.value is None and res.error is not None and "timed out" in res.error


def test_garbage_is_parse_error_not_no(server: str) -> None:
    with make_judge(server, "garbage") as judge:
        res = judge.grade("anything", "affirmative")
        assert res.value is None and res.error is not None and "parse" in res.error
        assert res.raw.startswith("I think")
        # parse failures are not cached
        again = judge.grade("anything", "affirmative")
        assert again.cached is False
    with make_judge(server, "notjson") as judge:
        res = judge.grade("anything", "affirmative")
    assert res.value is None and res.error is not None and "malformed" in res.error


def test_transport_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with make_judge(f"http://127.0.0.1:{port}", "ok", max_retries=1) as judge:
        res = judge.grade("anything", "affirmative")
    assert res.value is None and res.error is not None and "gave up" in res.error


def test_missing_key(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    with make_judge(server, "ok") as judge, pytest.raises(JudgeError, match=KEY_ENV):
        judge.grade("a fresh response nobody cached", "affirmative")
    # local servers without a key
    with make_judge(server, "ok", api_key_env=None) as judge:
        res = judge.grade("MAGIC no key", "affirmative")
    assert res.value is True and STATE.auth[-1] is None


def test_grade_many(server: str) -> None:
    items = [
        {"response": f"MAGIC {i}" if i % 2 else f"plain {i}", "concept": "x"} for i in range(6)
    ]
    with make_judge(server, "ok") as judge:
        results = judge.grade_many(items, "correct_concept", max_workers=3)
    assert [r.value for r in results] == [False, True, False, True, False, True]


def test_key_never_leaks(server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cache = tmp_path / "c.jsonl"
    results = []
    for mode in ["ok", "fail500", "bad401", "garbage", "notjson"]:
        with make_judge(server, mode, cache_path=cache, max_retries=0) as judge:
            results.append(judge.grade(f"MAGIC leak check {mode}", "affirmative"))
            assert SENTINEL_KEY not in repr(judge) and SENTINEL_KEY not in repr(judge.config)
    for r in results:
        assert SENTINEL_KEY not in repr(r)
        assert SENTINEL_KEY not in json.dumps(r.as_grade())
    assert cache.exists() and SENTINEL_KEY not in cache.read_text()
    assert caplog.records and SENTINEL_KEY not in caplog.text
