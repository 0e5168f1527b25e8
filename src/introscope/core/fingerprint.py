"""Fingerprints of weight files: what a run records to know it resumes on the same weights."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path

#: Files up to this size are hashed whole; larger ones by a strided sample (below).
WHOLE_FILE_LIMIT = 256 << 20
#: The strided sample of a larger file: this many 1 MiB chunks, evenly spaced from the first
#: to the last byte (a 140 GB checkpoint reads 256 MiB, not 140 GB).
SAMPLE_CHUNKS = 256
CHUNK = 1 << 20


def file_fingerprint(paths: Sequence[Path]) -> str:
    """A stable identity for weight files: each file's name and exact size, plus every byte
    of files up to :data:`WHOLE_FILE_LIMIT` and an evenly strided sample of larger ones.

    A sample that covers the whole length of the file, not only its head and tail, changes
    when any tensor is re-quantized or fine-tuned in place.
    """
    h = hashlib.sha256(b"introscope-fingerprint/2\0")
    for p in sorted(paths, key=lambda q: q.name):
        st = p.stat()
        h.update(_file_digest(str(p), st.st_size, st.st_mtime_ns).encode())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    """One file's part of :func:`file_fingerprint` (cached per size and modification time:
    loading a model asks for it more than once)."""
    h = hashlib.sha256(f"{Path(path).name}:{size}:".encode())
    with open(path, "rb") as f:
        if size <= WHOLE_FILE_LIMIT:
            while chunk := f.read(8 * CHUNK):
                h.update(chunk)
        else:
            step = (size - CHUNK) / (SAMPLE_CHUNKS - 1)
            for i in range(SAMPLE_CHUNKS):
                f.seek(round(i * step))
                h.update(f.read(CHUNK))
    return h.hexdigest()


def head_tail_fingerprint(paths: Sequence[Path]) -> str:
    """The fingerprint runs recorded before :func:`file_fingerprint` sampled whole files
    (names, sizes, first and last MiB). Kept only to recognise the weights of older run
    directories and vector files; never used to identify new ones."""
    h = hashlib.sha256()
    for p in sorted(paths, key=lambda q: q.name):
        size = p.stat().st_size
        h.update(f"{p.name}:{size}:".encode())
        with p.open("rb") as f:
            h.update(f.read(1 << 20))
            if size > (2 << 20):
                f.seek(size - (1 << 20))
                h.update(f.read(1 << 20))
    return h.hexdigest()[:16]
