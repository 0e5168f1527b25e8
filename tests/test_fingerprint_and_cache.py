"""Weight fingerprints see a change anywhere in a file (whole small files, a strided sample of
large ones, and the size); the old head-and-tail fingerprint still recognises older runs; two
processes converting the same GGUF convert it once; the model records its parameter count."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from introscope.core import fingerprint, models
from introscope.core.fingerprint import file_fingerprint, head_tail_fingerprint
from introscope.core.models import LoadedModel, bundled_gguf_path


def write(path: Path, data: bytes, stamp: int) -> Path:
    path.write_bytes(data)
    os.utime(path, ns=(stamp, stamp))  # distinct times: the per-file digest is cached on them
    return path


def test_a_change_in_the_middle_of_a_small_file_is_seen(tmp_path: Path) -> None:
    data = bytearray(os.urandom(5 << 20))
    f = write(tmp_path / "w.safetensors", bytes(data), 1)
    whole, head_tail = file_fingerprint([f]), head_tail_fingerprint([f])
    data[len(data) // 2] ^= 0xFF
    write(f, bytes(data), 2)
    assert file_fingerprint([f]) != whole
    assert head_tail_fingerprint([f]) == head_tail  # what the old fingerprint missed


def test_large_files_are_sampled_across_their_whole_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fingerprint, "WHOLE_FILE_LIMIT", 1 << 20)
    monkeypatch.setattr(fingerprint, "SAMPLE_CHUNKS", 8)
    size = 16 << 20
    data = bytearray(os.urandom(size))
    f = write(tmp_path / "big.bin", bytes(data), 1)
    base = file_fingerprint([f])
    step = (size - fingerprint.CHUNK) / 7
    data[round(3 * step) + 10] ^= 0xFF  # inside the fourth sampled chunk, far from both ends
    write(f, bytes(data), 2)
    assert file_fingerprint([f]) != base
    write(f, bytes(data) + b"\0", 3)  # the size alone
    assert len({base, file_fingerprint([f])}) == 2


def test_bundled_model_records_both_fingerprints_and_its_size(lm: LoadedModel) -> None:
    gguf = bundled_gguf_path()
    assert lm.info.weights_hash == file_fingerprint([gguf])
    assert lm.info.weights_hash_v1 == head_tail_fingerprint([gguf]) == "174b85b4086a63f9"
    assert lm.info.same_weights(lm.info.weights_hash) and lm.info.same_weights("174b85b4086a63f9")
    assert not lm.info.same_weights("0123456789abcdef")
    assert lm.info.n_params == sum(p.numel() for p in lm.model.parameters()) > 100_000_000


def test_two_converters_of_one_gguf_convert_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTROSCOPE_CACHE", str(tmp_path / "cache"))
    gguf = write(tmp_path / "m.gguf", os.urandom(4096), 1)
    calls: list[str] = []

    def slow_convert(src: Path, key: str, target: Path) -> None:
        calls.append(threading.current_thread().name)
        time.sleep(0.5)  # long enough that the second caller arrives during the conversion
        tmp = target.parent / f".tmp-{len(calls)}"
        tmp.mkdir()
        (tmp / models.COMPLETE_MARKER).write_text("{}")
        os.replace(tmp, target)

    monkeypatch.setattr(models, "_convert_gguf", slow_convert)
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(models.gguf_cache_dir(gguf)), name=f"t{i}")
        for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(results) == 2 and results[0] == results[1]
    assert (results[0] / models.COMPLETE_MARKER).is_file()
