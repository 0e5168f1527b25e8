"""Paraphrases from an OpenAI-compatible endpoint (a loopback server here): the text comes
back with the chain's leading whitespace, an empty chain is its own paraphrase, and a
failing endpoint gives an error per chain instead of raising."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from introscope.grading.paraphrase import INSTRUCTION, SYSTEM, paraphrase_chains, paraphraser
from introscope.spec import JudgeSpec
from support import loopback_server

SEEN: list[dict[str, object]] = []


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        SEEN.append(body)
        if self.path.startswith("/fail"):
            self.send_response(500)
            self.end_headers()
            return
        user = body["messages"][-1]["content"]
        chain = user.split("<reasoning>\n", 1)[1].split("\n</reasoning>", 1)[0]
        data = json.dumps(
            {"choices": [{"message": {"content": f"  REWORDED: {chain.strip()}\n"}}]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with loopback_server(_Handler) as url:
        yield url


def spec(url: str) -> JudgeSpec:
    return JudgeSpec(base_url=url, model="m", api_key_env=None, max_retries=0, timeout_s=5.0)


def test_paraphrases_come_back(server: str) -> None:
    SEEN.clear()
    judge = paraphraser(spec(f"{server}/ok/v1"))
    try:
        out = paraphrase_chains(judge, ["\n\nStep 1: 6 * 9 = 54.", "  "], max_tokens=99)
    finally:
        judge.close()
    assert out == [("\n\nREWORDED: Step 1: 6 * 9 = 54.", None), ("  ", None)]
    assert len(SEEN) == 1  # the empty chain was not sent
    body = SEEN[0]
    assert body["max_tokens"] == 99 and body["temperature"] == 0
    msgs = body["messages"]
    assert isinstance(msgs, list) and msgs[0]["content"] == SYSTEM
    assert msgs[1]["content"] == INSTRUCTION.format(chain="\n\nStep 1: 6 * 9 = 54.")


def test_a_failing_endpoint_gives_errors(server: str) -> None:
    judge = paraphraser(spec(f"{server}/fail/v1"))
    try:
        out = paraphrase_chains(judge, ["a chain"], max_tokens=10)
    finally:
        judge.close()
    assert out[0][0] is None and "HTTP 500" in str(out[0][1])
