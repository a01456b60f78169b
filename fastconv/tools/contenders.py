"""The bench's contenders and the worker processes that time them.

A :class:`Contender` names a library (fastconv, numpy, torch, naive) and,
for fastconv, an environment or another source tree; a :class:`Worker` is
its process (:mod:`.bench_worker`), which the parent asks for samples;
:func:`wait_idle` lets the other workers' threads go idle before a sample.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

__all__ = ["Contender", "parse_contender", "Worker", "wait_idle"]

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_worker.py")
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Contender:
    """A contender: its label, worker kind, extra environment and source tree."""

    def __init__(self, label, kind, env=None, path=None):
        self.label, self.kind, self.env, self.path = label, kind, env or {}, path

    def __repr__(self):
        return f"Contender({self.label!r})"


def parse_contender(text):
    """``numpy``, ``torch``, ``fastconv``, ``fastconv:VAR=V,...`` or ``fastconv@PATH``."""
    text = text.strip()
    if text in ("fastconv", "numpy", "torch"):
        return Contender(text, text)
    if text.startswith("fastconv:"):
        env = {}
        for item in text[len("fastconv:") :].split(","):
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ValueError(f"contender {text!r}: expected VAR=VALUE, got {item!r}")
            env[key.strip()] = value.strip()
        return Contender(text, "fastconv", env=env)
    if text.startswith("fastconv@"):
        path = os.path.abspath(os.path.expanduser(text[len("fastconv@") :]))
        if not os.path.isfile(os.path.join(path, "fastconv", "__init__.py")):
            raise ValueError(f"contender {text!r}: no fastconv package in {path}")
        return Contender(f"fastconv@{_tree_name(path)}", "fastconv", path=path)
    raise ValueError(
        f"contender must be numpy, torch, fastconv, fastconv:VAR=VALUE or "
        f"fastconv@PATH, got {text!r}"
    )


def _tree_name(path):
    """Return the short commit of a git checkout at `path`, else the folder's name."""
    try:
        head = subprocess.run(
            ["git", "-C", path, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", path, "status", "--porcelain", "fastconv"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        head = None
    if head is not None and head.returncode == 0 and head.stdout.strip():
        return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    return os.path.basename(path.rstrip(os.sep)) or path


class Worker:
    """A running worker process and its JSON-lines channel."""

    def __init__(self, contender):
        self.contender = contender
        env = dict(os.environ, **contender.env)
        root = contender.path or _REPO
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (root, env.get("PYTHONPATH", "")) if p
        )
        self._err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [sys.executable, WORKER, contender.kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            env=env,
            text=True,
            bufsize=1,
        )
        self.info = self.ask(op="hello")

    def ask(self, **request):
        """Send one request; return the reply (RuntimeError if the worker fails).

        A ``setup`` or ``results`` the worker cannot do comes back as a
        reply with an "error" (a peer that cannot run a layer, or a
        contender without results to compare), for the bench to report.
        """
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            self._err.seek(0)
            tail = self._err.read()[-2000:]
            raise RuntimeError(f"bench worker {self.contender.label} stopped:\n{tail}")
        reply = json.loads(line)
        if "error" in reply and request.get("op") not in ("setup", "results"):
            raise RuntimeError(f"bench worker {self.contender.label}: {reply['error']}")
        return reply

    @classmethod
    def once(cls, contender, **request):
        """Start a worker, ask it one request, stop it; return the reply."""
        worker = cls(contender)
        try:
            return worker.ask(**request)
        finally:
            worker.close()

    def close(self):
        """Stop the process."""
        try:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
        self._err.close()


def _cpu_seconds(pid):
    """CPU time of all threads of `pid` (Linux schedstat), or None."""
    total = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                total += int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total * 1e-9


def wait_idle(pids, window=0.005, limit=0.5):
    """Wait until the processes `pids` use under 10% of a core over `window` seconds.

    Spinning threads (OpenBLAS's workers after a GEMM, torch's OpenMP
    workers after an op) would otherwise take cores from the next sample.
    Without schedstat, sleeps for longer than such threads spin (0.15 s).
    """
    if not pids:
        return
    prev = [_cpu_seconds(p) for p in pids]
    if None in prev:
        time.sleep(0.15)
        return
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        time.sleep(window)
        cur = [_cpu_seconds(p) for p in pids]
        if None in cur or sum(c - p for c, p in zip(cur, prev)) < 0.1 * window:
            return
        prev = cur


# --------------------------------------------------------------------------
# one layer
