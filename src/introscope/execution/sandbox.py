"""Run untrusted Python (a model's code) in a separate, limited process; never in this one.

:func:`run_sandboxed` writes the program into a fresh temporary directory and runs it with
the current interpreter in isolated mode (``-I -B``: no user site, no ``PYTHON*`` variables,
no bytecode files), in a new session so the whole process group can be killed, with:

* resource limits the child sets on itself before the program runs (``resource.setrlimit``,
  soft = hard, and the audit hook refuses changing them afterwards; no ``preexec_fn``, which
  is unsafe in a threaded parent): CPU seconds, address space, size of any file it writes
  (its captured output included), no core files;
* a wall-clock timeout after which the process group is killed;
* no network: a fresh network namespace (``unshare --net --map-root-user``) where the system
  allows one, and in any case an audit hook (``sys.addaudithook``, installed before the
  program runs) that refuses sockets, subprocesses (``_posixsubprocess`` included),
  ``ctypes``, ``os.fork``/``exec`` and signals to other processes;
* no writes outside its directory: the same hook refuses opening, creating, renaming or
  removing any path outside the temporary directory for writing;
* a minimal environment (``HOME`` and the working directory are the temporary directory),
  removed afterwards with everything in it.

The outcome is a :class:`SandboxResult`: exit status, the head of stdout and stderr, and
whether it was killed on the timeout. A program that is stopped simply has a failed result;
nothing it does can raise in the caller.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Run by the child interpreter: sets the limits, installs the audit hook, then runs the
#: program (its path is ``sys.argv[1]``, the limits ``sys.argv[2:5]``).
GUARD = r"""
import os, resource, sys
# Limits first, soft = hard; the audit hook below refuses setrlimit/prlimit afterwards (a
# process running as root could otherwise raise a hard limit again).
cpu, mem, fsize = (int(v) for v in sys.argv[2:5])
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
ROOT = os.path.realpath(os.getcwd())
BLOCKED = ("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.fork",
           "os.forkpty", "os.spawn", "os.startfile", "ctypes.", "pty.", "winreg.",
           "resource.setrlimit", "resource.prlimit", "os.kill", "os.killpg",
           "signal.pthread_kill", "sys.remote_exec")
NO_IMPORT = ("ctypes", "_ctypes", "_posixsubprocess", "_xxsubinterpreters")
WRITES = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown",
          "os.link", "os.symlink", "os.truncate", "os.utime", "shutil.rmtree", "shutil.move")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def inside(path):
    if isinstance(path, int):
        return True
    try:
        p = os.path.realpath(os.fsdecode(path))
    except Exception:
        return False
    return p == ROOT or p.startswith(ROOT + os.sep)

def guard(event, args):
    if event.startswith(BLOCKED) or (event == "import" and args[0] in NO_IMPORT):
        raise PermissionError("sandbox: " + event + " is not allowed")
    if event == "open":
        path, mode, flags = args
        writing = (mode is not None and any(c in str(mode) for c in "wax+")) or (
            isinstance(flags, int) and flags & WRITE_FLAGS)
        if writing and path is not None and not inside(path):
            raise PermissionError("sandbox: writing outside the sandbox directory")
    elif event.startswith(WRITES):
        for a in args[:2]:
            if isinstance(a, (str, bytes, os.PathLike)) and not inside(a):
                raise PermissionError("sandbox: " + event + " outside the sandbox directory")

program = sys.argv[1]
with open(program, encoding="utf-8") as f:
    source = f.read()
sys.addaudithook(guard)
sys.argv = [program]
exec(compile(source, program, "exec"), {"__name__": "__main__"})
"""


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 2  # CPU seconds (SIGXCPU, then SIGKILL)
    wall_s: float = 5.0  # the process group is killed after this
    memory_mb: int = 512  # address space
    file_mb: int = 1  # largest file it may write, its captured output included
    output_chars: int = 4000  # head of stdout/stderr returned


@dataclass(frozen=True)
class SandboxResult:
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    network_namespace: bool

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


@functools.cache
def network_namespace_available() -> bool:
    """Whether ``unshare --net --map-root-user`` works here (user namespaces allowed)."""
    exe = shutil.which("unshare")
    if exe is None:
        return False
    try:
        done = subprocess.run(
            [exe, "--net", "--map-root-user", "true"], capture_output=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _head(path: Path, chars: int) -> str:
    with path.open("rb") as f:
        return f.read(chars * 4).decode("utf-8", "replace")[:chars]


def run_sandboxed(
    source: str, limits: Limits | None = None, *, use_namespace: bool = True
) -> SandboxResult:
    """Run ``source`` as a Python program in a limited child process (module docstring)."""
    limits = limits or Limits()
    work = Path(tempfile.mkdtemp(prefix="introscope-sandbox-"))
    logs = Path(tempfile.mkdtemp(prefix="introscope-sandbox-log-"))
    try:
        (work / "main.py").write_text(source, encoding="utf-8")
        (logs / "guard.py").write_text(GUARD, encoding="utf-8")
        mb = 1024 * 1024
        cmd = [
            sys.executable,
            "-I",
            "-B",
            str(logs / "guard.py"),
            str(work / "main.py"),
            str(limits.cpu_s),
            str(limits.memory_mb * mb),
            str(limits.file_mb * mb),
        ]
        netns = use_namespace and network_namespace_available()
        if netns:
            cmd = [str(shutil.which("unshare")), "--net", "--map-root-user", *cmd]
        env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8"}
        timed_out = False
        with (logs / "out").open("wb") as out, (logs / "err").open("wb") as err:
            proc = subprocess.Popen(
                cmd,
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
            try:
                proc.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                # The whole group, whether it ended or not: nothing it started may outlive it.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return SandboxResult(
            proc.returncode,
            _head(logs / "out", limits.output_chars),
            _head(logs / "err", limits.output_chars),
            timed_out,
            netns,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(logs, ignore_errors=True)
