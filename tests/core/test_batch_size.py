"""``batch_size = "auto"`` (core/batch_size.py): the memory rule on constructed shapes and
memory figures, the spec and CLI forms, and the run manifest recording the chosen number
(which a resume reuses whatever memory is free then)."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from introscope.cli import app
from introscope.core import batch_size as bs
from introscope.core.batch_size import CPU_CAP, GPU_CAP, RowShape, choose_batch_size
from introscope.core.models import from_modules
from introscope.errors import SpecError
from introscope.runner import run_spec
from introscope.spec import Spec, dump_digest, override, parse_batch_size, validate_spec
from introscope.store import read_manifest
from support import BUNDLED_VOCAB, tiny_config

# The bundled SmolLM2-135M's dimensions (30 layers, 9 heads, 3 key/value heads of 64).
BUNDLED = RowShape(
    n_layers=30,
    n_heads=9,
    n_kv_heads=3,
    head_dim=64,
    hidden_size=576,
    intermediate_size=1536,
    vocab_size=49152,
    bytes_per_value=4,
)
GIB = 1 << 30


def test_row_bytes_follow_the_documented_formula() -> None:
    # docs/engine.md §8: 2·30·3·64·229·4 ≈ 10.6 MB of KV cache for 181 + 48 tokens.
    assert BUNDLED.kv_bytes(229) == 10_552_320
    t = 560
    expected = (
        2 * 30 * 3 * 64 * t * 4  # KV cache
        + t * (4 * 576 + 2 * 1536) * 4  # one block's activations
        + 9 * t * t * 4  # attention scores
        + t * 49152 * 4  # float32 logits of every position
    )
    assert BUNDLED.row_bytes(t) == expected
    assert BUNDLED.row_bytes(t + 1) > BUNDLED.row_bytes(t)


def test_rule_is_monotone_in_memory_capped_and_never_zero() -> None:
    t = 560
    row = BUNDLED.row_bytes(t)
    sizes = [choose_batch_size(BUNDLED, t, m * row, "cpu") for m in range(2, 200, 3)]
    assert sizes == sorted(sizes)
    assert sizes[0] == 1 and max(sizes) == CPU_CAP
    # Exactly k rows fit in half of 2k rows' worth of memory.
    for k in (1, 3, 7, 20):
        assert choose_batch_size(BUNDLED, t, 2 * k * row, "cpu") == k
    for k in (3, 7, 20):
        assert choose_batch_size(BUNDLED, t, 2 * k * row - 2, "cpu") == k - 1
    # The caps: the CPU's throughput knee, a larger one on a GPU, an explicit one.
    assert choose_batch_size(BUNDLED, t, 1000 * GIB, "cpu") == CPU_CAP
    assert choose_batch_size(BUNDLED, t, 1000 * GIB, "cuda") == GPU_CAP
    assert choose_batch_size(BUNDLED, t, 1000 * GIB, "cpu", cap=8) == 8
    assert choose_batch_size(BUNDLED, t, 10 * row, "cuda", fraction=0.9) == 9
    # Longer sequences never get a larger batch.
    by_len = [choose_batch_size(BUNDLED, n, 8 * GIB, "cuda") for n in (128, 512, 2048, 4096)]
    assert by_len == sorted(by_len, reverse=True) and by_len[0] > by_len[-1]


def test_impossible_budget_is_one_clear_sentence() -> None:
    t = 4096
    with pytest.raises(SpecError) as err:
        choose_batch_size(BUNDLED, t, BUNDLED.row_bytes(t), "cpu")  # half of one row
    msg = str(err.value)
    assert msg.count(".") >= 1 and "\n" not in msg
    assert "MiB" in msg and "set batch_size to a number" in msg
    with pytest.raises(SpecError):
        choose_batch_size(BUNDLED, t, 0, "cpu")
    with pytest.raises(SpecError):
        choose_batch_size(BUNDLED, 0, GIB, "cpu")


def test_shape_from_configs_of_several_families() -> None:
    llama = RowShape.from_config(tiny_config("llama", n_layers=3, vocab_size=100), torch.float32)
    assert (llama.n_layers, llama.n_heads, llama.n_kv_heads, llama.head_dim) == (3, 4, 2, 8)
    assert (llama.hidden_size, llama.intermediate_size, llama.vocab_size) == (32, 64, 100)
    assert llama.bytes_per_value == 4
    gpt2 = RowShape.from_config(tiny_config("gpt2", n_layers=2), torch.bfloat16)
    # GPT-2 names its fields differently, has no GQA and leaves n_inner to mean 4·d.
    assert (gpt2.n_layers, gpt2.n_kv_heads, gpt2.head_dim) == (2, 4, 8)
    assert gpt2.intermediate_size == 4 * 32 and gpt2.bytes_per_value == 2


def test_free_memory_on_cpu_with_and_without_psutil(monkeypatch: pytest.MonkeyPatch) -> None:
    first = bs.free_memory(torch.device("cpu"))
    assert first > 0
    real_import = builtins.__import__

    def no_psutil(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "psutil":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psutil)
    if Path("/proc/meminfo").is_file():
        assert bs.free_memory(torch.device("cpu")) > 0


def _spec(**extra: Any) -> Spec:
    return validate_spec(
        {
            "name": "sc",
            "experiment": "steering_check",
            "measure": "logits",
            "grid": {
                "concepts": ["Dust", "Trees"],
                "layers": [1],
                "strengths": [4.0],
                "controls": ["concept"],
            },
            **extra,
        },
        "test",
    )


def test_spec_and_cli_accept_auto_and_refuse_nonsense() -> None:
    assert _spec(batch_size="auto").batch_size == "auto"
    assert _spec(batch_size=12).fixed_batch_size == 12
    with pytest.raises(SpecError, match="not resolved"):
        _ = _spec(batch_size="auto").fixed_batch_size
    for bad in (0, 2000, "big", 1.5, True):
        with pytest.raises(SpecError, match=r'batch_size: must be a whole number .* or "auto"'):
            _spec(batch_size=bad)
    # An explicit number dumps (and digests) as before "auto" existed.
    dump = _spec(batch_size=64).model_dump(mode="json")
    assert dump["batch_size"] == 64
    assert _spec(batch_size=64).digest() == dump_digest(dump)
    assert _spec(batch_size="auto").digest() != _spec(batch_size=64).digest()
    assert parse_batch_size("auto") == "auto" and parse_batch_size(" AUTO ") == "auto"
    assert parse_batch_size("8") == 8 and parse_batch_size(None) is None
    with pytest.raises(SpecError, match="neither a whole number"):
        parse_batch_size("lots")
    assert override(_spec(batch_size=8), batch_size="auto").batch_size == "auto"
    runner = CliRunner()
    res = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert "--batch-size" in res.output and "auto" in res.output
    res = runner.invoke(app, ["run", "steering_check", "-o", "/nonexistent/x", "--batch-size", "x"])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "neither a whole number" in res.output


def _tiny_lm(make_tiny: Any) -> Any:
    from transformers import AutoTokenizer

    from introscope.core.models import bundled_gguf_path, gguf_cache_dir

    tok = AutoTokenizer.from_pretrained(str(gguf_cache_dir(bundled_gguf_path())))
    return from_modules(make_tiny("llama", n_layers=3, vocab_size=BUNDLED_VOCAB), tok)


def test_manifest_records_the_chosen_size_and_a_resume_keeps_it(
    make_tiny: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lm = _tiny_lm(make_tiny)
    spec = _spec(batch_size="auto")
    shape = RowShape.from_config(lm.model.config, lm.dtype)
    n_tokens = bs.PROMPT_TOKENS + spec.sampling.max_new_tokens
    # Free memory for exactly 3 rows under the rule's half: the run batches 3 trials.
    monkeypatch.setattr(bs, "free_memory", lambda device: 6 * shape.row_bytes(n_tokens))
    indices: list[tuple[int, int]] = []
    run = tmp_path / "auto"
    res = run_spec(
        spec, run, lm=lm, on_batch=lambda o: indices.append((o.job.index, len(o.job.trials)))
    )
    manifest = read_manifest(run)
    assert manifest["batch_sizes"] == {"sc": 3}
    assert manifest["specs"][0]["batch_size"] == "auto"
    assert [n for _, n in indices][:-1] == [3] * (len(indices) - 1)
    assert sum(n for _, n in indices) == res.n_trials and indices[-1][1] <= 3

    # A resume with far more memory free keeps the recorded 3 (the batch composition).
    monkeypatch.setattr(bs, "free_memory", lambda device: 1000 * GIB)
    again = run_spec(spec, run, lm=lm)
    assert again.already_complete
    assert read_manifest(run)["batch_sizes"] == {"sc": 3}

    # A number is recorded as itself, and no memory is looked at.
    monkeypatch.setattr(bs, "free_memory", lambda device: pytest.fail("measured memory"))
    run_spec(_spec(batch_size=5), tmp_path / "fixed", lm=lm)
    assert read_manifest(tmp_path / "fixed")["batch_sizes"] == {"sc": 5}


class _Remote:
    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def remote(self, *args: Any) -> Any:
        return self.fn(*args)


class _FakeWorker:
    """Stands for a Worker inside a Ray actor: sizes "auto" specs as told or by its rule."""

    def __init__(self, own: int) -> None:
        self.own = own
        self.given: list[dict[str, int]] = []

    def fix_batch_sizes(self, recorded: dict[str, int]) -> dict[str, int]:
        self.given.append(dict(recorded))
        return {"a": recorded.get("a", self.own)}


def test_ray_session_gives_every_actor_the_planners_numbers() -> None:
    from types import SimpleNamespace

    from introscope.execution.ray_cluster import RaySession, Slot

    workers = [_FakeWorker(own) for own in (7, 99, 99)]
    actors = [
        SimpleNamespace(
            ready=_Remote(lambda: 1),
            call=_Remote(lambda method, *a, w=w: getattr(w, method)(*a)),
        )
        for w in workers
    ]
    session = object.__new__(RaySession)
    session.ray = SimpleNamespace(get=lambda ref: ref)
    session.slots = [Slot(i, a) for i, a in enumerate(actors)]
    session.specs = [_spec(batch_size="auto").model_copy(update={"name": "a"}), _spec()]
    assert session.fix_batch_sizes({}) == {"a": 7}
    assert [w.given for w in workers] == [[{}], [{"a": 7}], [{"a": 7}]]
    # Actors started later (to replace a dead one) are built from the resolved specs.
    assert [s.batch_size for s in session.specs] == [7, 16]
