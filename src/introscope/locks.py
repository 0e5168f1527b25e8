"""Inter-process locks on files: one writer per run directory, one converter per GGUF cache.

Both are advisory OS locks (``flock`` on POSIX, through :mod:`filelock`), so a process that
dies, even by SIGKILL, releases its lock with it; the lock file itself stays behind and is
harmless.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from introscope.errors import StoreError

RUN_LOCK_NAME = ".introscope.lock"


class RunDirLock:
    """Exclusive hold on a run directory for one process (the only writer of its store).

    Taken before the model loads, so a second ``introscope run --out SAME`` fails at once
    instead of after minutes of loading. Creates the directory if needed.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self._lock: FileLock | None = None
        self.created = False

    def acquire(self) -> RunDirLock:
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise StoreError(f"{self.run_dir} exists and is not a directory; choose another --out.")
        self.created = not self.run_dir.exists()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.run_dir / RUN_LOCK_NAME), is_singleton=False)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise StoreError(
                f"{self.run_dir} is in use by another introscope process; wait for it to "
                "finish or choose another --out."
            ) from None
        self._lock = lock
        return self

    def remove_if_unused(self) -> None:
        """Remove the directory if this lock created it and nothing but the lock file is in
        it (a run refused before it wrote anything must not leave an empty run behind)."""
        if self._lock is None or not self.created:
            return
        if {p.name for p in self.run_dir.iterdir()} <= {RUN_LOCK_NAME}:
            (self.run_dir / RUN_LOCK_NAME).unlink(missing_ok=True)
            self.run_dir.rmdir()

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> RunDirLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextmanager
def waiting_lock(path: Path) -> Iterator[None]:
    """Hold ``path`` (a lock file) exclusively, waiting for any other holder to finish."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), is_singleton=False)
    with lock:
        yield
