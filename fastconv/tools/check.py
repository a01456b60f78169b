"""Grade and time a user's own course implementation: ``python -m fastconv check``.

:func:`check` imports the user's functions by their course names (whichever
of them exist), runs each on the case battery of :mod:`fastconv._check_cases`
(the course's own examples plus edge cases), compares the results with the
oracle and times the user's calls next to fastconv's. The user's code runs in
a child process, one call at a time, so that a call that overruns the time
limit can be killed, and an exception or a crash inside it becomes a failure
of that function rather than of the checker. :func:`format_report` prints
the per-function tables; :func:`add_arguments` and :func:`run` are the
command line.
"""

import argparse
import importlib
import importlib.util
import io
import os
import pathlib
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from . import check_cases as _check_cases

__all__ = [
    "UsageError",
    "CaseResult",
    "FunctionResult",
    "CheckReport",
    "check",
    "format_report",
    "add_arguments",
    "run",
]

DEFAULT_TIME_LIMIT = 10.0  # seconds per call of a user's function
MIN_IMPORT_TIME_LIMIT = 30.0  # importing may run a converted notebook's cells
FAST_REPEAT = 3  # fastconv's time is the best of this many calls
TRACEBACK_LINES = 12  # lines of a user's traceback kept in the report


class UsageError(ValueError):
    """A wrong target or option: exit status 2 on the command line."""


# --------------------------------------------------------------------------
# results


@dataclass
class CaseResult:
    """The outcome of one case.

    `status` is "pass", "fail" (wrong values, shape or type), "error" (the
    function raised), "timeout", "crash" (the process running it died) or
    "skipped" (after a time-out or a crash of the same function). The errors are the
    worst over the compared outputs: `max_abs` is ``|got - expected|`` and
    `max_rel` is cs231n's ``rel_error``, ``|got - expected| / max(1e-8,
    |got| + |expected|)``; `*_at` names the element, e.g. ``"Z[0, 2, 1, 3]"``.
    Times are in seconds; `user_seconds` is None when the call did not
    complete.
    """

    name: str
    why: str
    params: dict
    status: str
    message: str = ""
    max_abs: Optional[float] = None
    max_abs_at: str = ""
    max_rel: Optional[float] = None
    max_rel_at: str = ""
    user_seconds: Optional[float] = None
    fast_seconds: Optional[float] = None
    traceback: str = ""
    note: str = ""

    @property
    def passed(self):
        """Whether the case passed."""
        return self.status == "pass"


@dataclass
class FunctionResult:
    """All cases of one function, with the worst errors and total times."""

    name: str
    returns: str
    cases: list = field(default_factory=list)

    @property
    def passed(self):
        """Whether every case passed."""
        return all(c.passed for c in self.cases)

    @property
    def n_passed(self):
        """Number of cases passed."""
        return sum(c.passed for c in self.cases)

    @property
    def first_failure(self):
        """The first case that did not pass, or None."""
        return next((c for c in self.cases if not c.passed), None)

    def _worst(self, attr):
        scored = [c for c in self.cases if getattr(c, attr) is not None]
        return max(scored, key=lambda c: getattr(c, attr), default=None)

    @property
    def worst_abs(self):
        """The case with the largest absolute error, or None."""
        return self._worst("max_abs")

    @property
    def worst_rel(self):
        """The case with the largest relative error, or None."""
        return self._worst("max_rel")

    @property
    def timed(self):
        """The cases where both the user's call and fastconv's were timed."""
        return [
            c
            for c in self.cases
            if c.user_seconds is not None and c.fast_seconds is not None
        ]

    @property
    def user_seconds(self):
        """The user's total time over :attr:`timed` cases."""
        return sum(c.user_seconds for c in self.timed)

    @property
    def fast_seconds(self):
        """Total time of fastconv over :attr:`timed` cases."""
        return sum(c.fast_seconds for c in self.timed)

    @property
    def speedup(self):
        """User's time over fastconv's, or None if nothing was timed."""
        if not self.timed or self.fast_seconds <= 0:
            return None
        return self.user_seconds / self.fast_seconds


@dataclass
class CheckReport:
    """The result of :func:`check`.

    Attributes
    ----------
    target : str
        What was checked: the path or module name as given.
    api : str
        "dlai" or "cs231n".
    time_limit : float
        Seconds allowed per call.
    functions : list of FunctionResult
        One per course function found, in the course's order.
    missing : list of str
        The course's function names that were not found.
    """

    target: str
    api: str
    time_limit: float
    functions: list
    missing: list

    @property
    def ok(self):
        """True when every function found passes."""
        return all(f.passed for f in self.functions)

    @property
    def exit_status(self):
        """0 when every function found passes, 1 otherwise."""
        return 0 if self.ok else 1

    def __getitem__(self, name):
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)


# --------------------------------------------------------------------------
# the child process: imports the user's module, runs one call per request


def _import_target(target):
    """Import a .py file or a module name; return the module."""
    if target.endswith(".py") or os.sep in target or (os.altsep and os.altsep in target):
        path = pathlib.Path(target).resolve()
        parts, root = [path.stem], path.parent
        while (root / "__init__.py").exists():  # a file in a package: import it as one
            parts.insert(0, root.name)
            root = root.parent
        sys.path.insert(0, str(root))
        if len(parts) > 1:
            return importlib.import_module(".".join(parts))
        name = f"_fastconv_check_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    sys.path.insert(0, os.getcwd())
    return importlib.import_module(target)


def _user_traceback(exc):
    # drop the checker's own frame: the user's code starts one level down
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    lines = traceback.format_exception(type(exc), exc, tb)
    return "".join(lines)


def _describe(result):
    if isinstance(result, (tuple, list)):
        return (type(result).__name__, len(result))
    return (type(result).__name__, None)


def _keep(result, outputs):
    kept = {}
    for _, index in outputs:
        if index is None:
            kept[None] = result
        elif isinstance(result, (tuple, list)) and index < len(result):
            kept[index] = result[index]
    return kept


def _run_task(module, task):
    note = ""
    args = task["args"]
    if task.get("forward"):
        fname, fargs = task["forward"]
        try:
            args = (args[0], getattr(module, fname)(*fargs)[1])
        except BaseException as exc:  # the user's forward failed: standard cache
            note = (
                f"your {fname} raised {type(exc).__name__}, so the assignment's "
                f"standard cache was used"
            )
    fn = getattr(module, task["name"])
    start = time.perf_counter()
    try:
        result = fn(*args, **task["kwargs"])
    except BaseException as exc:
        elapsed = time.perf_counter() - start
        return (
            "error",
            f"{type(exc).__name__}: {exc}",
            _user_traceback(exc),
            elapsed,
            note,
        )
    elapsed = time.perf_counter() - start
    return ("ok", _describe(result), _keep(result, task["outputs"]), elapsed, note)


# The child is a fresh interpreter (not multiprocessing, whose "spawn" re-runs
# the caller's script and whose "fork" copies a threaded BLAS): it reads one
# boot message, then pickled requests on stdin, and writes pickled replies on
# its original stdout, whose file descriptor it first moves out of the way of
# the user's prints.
_BOOT = (
    "import pickle, sys\n"
    "boot = pickle.load(sys.stdin.buffer)\n"
    "paths = boot['sys_path']\n"
    "sys.path[:] = paths + [p for p in sys.path if p not in paths]\n"
    "from fastconv.tools.check import _serve\n"
    "_serve(boot, sys.stdin.buffer)\n"
)


def _serve(boot, requests):
    """Child process: import the target, report the names found, serve calls."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # C-level prints cannot corrupt replies
    sys.stdin = io.StringIO()  # nor can input() eat requests
    sys.stdout = sys.stderr = io.StringIO()  # the user's prints stay out of the table

    def send(obj):
        pickle.dump(obj, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()

    try:
        module = _import_target(boot["target"])
    except BaseException as exc:
        send(
            (
                "import-error",
                type(exc).__name__,
                str(exc),
                _user_traceback(exc),
                getattr(exc, "name", None),
            )
        )
        return
    send(("ready", [n for n in boot["names"] if callable(getattr(module, n, None))]))
    while True:
        try:
            task = pickle.load(requests)
        except EOFError:
            return
        if task is None:
            return
        sys.stdout.seek(0)
        sys.stdout.truncate()
        reply = _run_task(module, task)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # e.g. an unpicklable return value
            data = pickle.dumps(
                (
                    "error",
                    f"the result could not be sent back: {exc}",
                    "",
                    reply[3],
                    reply[4],
                )
            )
        replies.write(data)
        replies.flush()


class _Timeout(Exception):
    pass


class _Crash(Exception):
    pass


_EOF = object()


def _read_replies(stream, replies):
    # a thread of the parent: waits on the child's pipe, so the parent can
    # wait on the queue with a time limit on any platform
    while True:
        try:
            replies.put(pickle.load(stream))
        except Exception:  # EOF or a torn message: the child is gone
            replies.put(_EOF)
            return


class _Worker:
    """A child process running the user's module, restarted after a kill."""

    def __init__(self, target, names, import_limit):
        self.target, self.names, self.import_limit = target, names, import_limit
        self.proc = None
        self.found = self._start()

    def _start(self):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
        )
        self.replies = queue.Queue()
        threading.Thread(
            target=_read_replies,
            args=(self.proc.stdout, self.replies),
            daemon=True,
            name="fastconv-check-reader",
        ).start()
        boot = dict(sys_path=list(sys.path), target=self.target, names=self.names)
        try:
            reply = self._exchange(boot, self.import_limit)
        except _Timeout:
            raise UsageError(
                f"importing {self.target} took longer than {self.import_limit:g} s"
            ) from None
        except _Crash as crash:
            raise UsageError(
                f"the process importing {self.target} died (exit code "
                f"{crash.args[0]}){crash.args[1]}"
            ) from None
        if reply[0] == "import-error":
            _, exc_name, exc_text, tb, missing = reply
            self.close()
            target_missing = missing and (
                self.target == missing or self.target.startswith(missing + ".")
            )
            if exc_name == "ModuleNotFoundError" and target_missing:
                raise UsageError(f"no such file or module: {self.target}")
            raise UsageError(
                f"could not import {self.target}: {exc_name}: {exc_text}\n{_tail(tb)}"
            )
        return reply[1]

    def _exchange(self, request, limit):
        try:
            pickle.dump(request, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
            reply = self.replies.get(timeout=limit)
        except queue.Empty:
            self.close(kill=True)
            raise _Timeout() from None
        except (BrokenPipeError, OSError):
            reply = _EOF
        if reply is _EOF:
            try:
                code = self.proc.wait(2)
            except subprocess.TimeoutExpired:  # it closed its stdout but lives on
                self.proc.kill()
                code = self.proc.wait()
            self.stderr.seek(0)
            err = self.stderr.read().decode(errors="replace").strip()
            self.close()
            raise _Crash(code, f":\n{_tail(err)}" if err else "")
        return reply

    def call(self, task, limit):
        if self.proc is None:
            self._start()
        return self._exchange(task, limit)

    def close(self, kill=False):
        """Stop the child: ask it to exit, or kill it if it is stuck (or `kill`)."""
        if self.proc is None:
            return
        if not kill and self.proc.poll() is None:
            try:
                pickle.dump(None, self.proc.stdin)
                self.proc.stdin.close()
                self.proc.wait(0.5)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.stderr):
            try:
                stream.close()
            except OSError:
                pass
        self.proc = None


# --------------------------------------------------------------------------
# comparison and timing


def _tail(text, lines=TRACEBACK_LINES):
    rows = text.rstrip().splitlines()
    if len(rows) > lines:
        rows = ["  ..."] + rows[-lines:]
    return "\n".join(rows)


def _where(label, index):
    return f"{label}[{', '.join(map(str, index))}]" if index else label


def _compare(spec, case, describe, kept):
    """(status, message, errors) for one completed call."""
    kind, length = describe
    if spec.tuple_len is not None and length != spec.tuple_len:
        got = f"a {kind} of length {length}" if length is not None else kind
        return "fail", f"returned {got}, expected a tuple {spec.returns}", {}
    tol = _check_cases.tolerance(case.dtype)
    errors = {}
    first_bad = None
    for (label, index), expected in zip(spec.outputs, case.expected):
        got = kept.get(index)
        try:
            arr = np.asarray(got)
        except Exception:  # e.g. a ragged list
            arr = np.asarray(None)
        if arr.dtype.kind not in "biuf":
            return (
                "fail",
                f"{label} is {type(got).__name__}, expected an array of "
                f"shape {expected.shape}",
                errors,
            )
        if arr.shape != expected.shape:
            want = "a scalar" if expected.shape == () else f"shape {expected.shape}"
            return "fail", f"{label} has shape {arr.shape}, expected {want}", errors
        g, e = arr.astype(np.float64), expected.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(g - e)
            diff = np.where(np.isnan(diff), np.inf, diff)  # NaN is as bad as it gets
            rel = np.where(
                np.isinf(diff), np.inf, diff / np.maximum(1e-8, np.abs(g) + np.abs(e))
            )
        allowed = tol["atol"] * max(1.0, float(np.max(np.abs(e), initial=0.0))) + tol[
            "rtol"
        ] * np.abs(e)
        if diff.size:
            ia = np.unravel_index(np.argmax(diff), diff.shape)
            ir = np.unravel_index(np.argmax(rel), rel.shape)
            if "max_abs" not in errors or diff[ia] > errors["max_abs"]:
                errors.update(max_abs=float(diff[ia]), max_abs_at=_where(label, ia))
            if "max_rel" not in errors or rel[ir] > errors["max_rel"]:
                errors.update(max_rel=float(rel[ir]), max_rel_at=_where(label, ir))
        bad = np.argwhere(~(diff <= allowed))
        if first_bad is None and len(bad):
            i = tuple(bad[0])
            first_bad = (
                f"{_where(label, i)} = {g[i]:.8g}, expected {e[i]:.8g} "
                f"(tolerance {allowed[i]:.2g})"
            )
    if first_bad is not None:
        return "fail", first_bad, errors
    return "pass", "", errors


def _time_fast(spec, case):
    """Best time of fastconv's version of the call; None if it cannot take the case."""
    fn = spec.fast
    try:
        fn(*case.args, **case.kwargs)  # compiles, outside timing
    except (TypeError, ValueError):
        return None
    best = float("inf")
    for _ in range(FAST_REPEAT):
        start = time.perf_counter()
        fn(*case.args, **case.kwargs)
        best = min(best, time.perf_counter() - start)
    return best


def _check_function(worker, spec, time_limit):
    result = FunctionResult(spec.name, spec.returns)
    stopped = ""  # after a time-out or a crash, the other cases are skipped
    for case in spec.cases():
        base = dict(name=case.name, why=case.why, params=case.params)
        if stopped:
            result.cases.append(
                CaseResult(status="skipped", message=f"skipped after a {stopped}", **base)
            )
            continue
        task = dict(
            name=spec.name,
            args=case.args,
            kwargs=case.kwargs,
            outputs=spec.outputs,
            forward=case.forward,
        )
        try:
            reply = worker.call(task, time_limit)
        except _Timeout:
            stopped = "time-out"
            result.cases.append(
                CaseResult(
                    status="timeout",
                    message=f"did not return within the time limit of {time_limit:g} s",
                    **base,
                )
            )
            continue
        except _Crash as crash:
            stopped = "crash"
            result.cases.append(
                CaseResult(
                    status="crash",
                    message=f"the process running it died (exit code {crash.args[0]})"
                    f"{crash.args[1]}",
                    **base,
                )
            )
            continue
        fast = _time_fast(spec, case)
        if reply[0] == "error":
            _, message, tb, _, note = reply
            result.cases.append(
                CaseResult(
                    status="error",
                    message=f"raised {message}",
                    traceback=tb,
                    fast_seconds=fast,
                    note=note,
                    **base,
                )
            )
            continue
        _, describe, kept, seconds, note = reply
        status, message, errors = _compare(spec, case, describe, kept)
        result.cases.append(
            CaseResult(
                status=status,
                message=message,
                user_seconds=seconds,
                fast_seconds=fast,
                note=note,
                **base,
                **errors,
            )
        )
    return result


# --------------------------------------------------------------------------
# public API


def _resolve_target(path_or_module):
    if isinstance(path_or_module, types.ModuleType):
        file = getattr(path_or_module, "__file__", None)
        return str(pathlib.Path(file).resolve()) if file else path_or_module.__name__
    if isinstance(path_or_module, os.PathLike):
        path_or_module = os.fspath(path_or_module)
    if not isinstance(path_or_module, str) or not path_or_module:
        raise UsageError(
            f"path_or_module must be a .py path, a module name or a "
            f"module, got {path_or_module!r}"
        )
    target = path_or_module
    looks_like_path = (
        target.endswith(".py")
        or os.sep in target
        or (os.altsep is not None and os.altsep in target)
    )
    if looks_like_path:
        path = pathlib.Path(target)
        if path.is_dir():
            raise UsageError(
                f"{target} is a directory: give the .py file that defines your functions"
            )
        if not path.is_file():
            raise UsageError(f"no such file: {target}")
        if path.suffix != ".py":
            raise UsageError(f"{target} is not a .py file")
        return str(path.resolve())
    return target


def check(path_or_module, api="dlai", *, time_limit=DEFAULT_TIME_LIMIT, functions=None):
    """Grade and time a user's implementation of a course API.

    Parameters
    ----------
    path_or_module : str, path-like or module
        A .py file (imported by its path; a file inside a package is imported
        as part of it) or the name of an importable module.
    api : {"dlai", "cs231n"}
        Whose function names and signatures to look for: the DeepLearning.AI
        "step by step" notebook's, or cs231n assignment 2's.
    time_limit : float
        Seconds allowed for each call of a user's function; a call that
        overruns is killed and reported as a failure, and the function's
        remaining cases are skipped (as after a crash of the process).
    functions : iterable of str, optional
        Check only these course functions.

    Returns
    -------
    CheckReport
        ``report.ok``, ``report.exit_status``, and per function
        (``report["conv_forward"]``) its case results.

    Raises
    ------
    UsageError
        No such file or module, an unknown `api` or function, a module that
        fails to import, or none of the API's functions found.

    Notes
    -----
    The user's code runs in a child Python process, started once and again
    after each time-out or crash. Each case's inputs are pickled to it, so the
    user's code cannot modify the checker's arrays, and whatever it prints is
    discarded.
    """
    if api not in _check_cases.APIS:
        raise UsageError(f"api must be one of {sorted(_check_cases.APIS)}, got {api!r}")
    if (
        isinstance(time_limit, bool)
        or not isinstance(time_limit, (int, float))
        or not time_limit > 0
    ):
        raise UsageError(
            f"time_limit must be a positive number of seconds, got {time_limit!r}"
        )
    all_specs = _check_cases.specs(api)
    names = [s.name for s in all_specs]
    if functions is not None:
        functions = list(functions)
        unknown = [f for f in functions if f not in names]
        if unknown:
            raise UsageError(
                f"unknown {api} function(s) {unknown}; the {api} functions are {names}"
            )
        all_specs = [s for s in all_specs if s.name in functions]
    target = _resolve_target(path_or_module)
    shown = (
        path_or_module.__name__
        if isinstance(path_or_module, types.ModuleType)
        else os.fspath(path_or_module)
    )
    wanted = [s.name for s in all_specs]
    worker = _Worker(target, wanted, max(float(time_limit), MIN_IMPORT_TIME_LIMIT))
    try:
        found = worker.found
        if not found:
            raise UsageError(
                f"none of the {api} functions were found in {shown}: "
                f"looked for {', '.join(wanted)}"
            )
        results = [
            _check_function(worker, s, float(time_limit))
            for s in all_specs
            if s.name in found
        ]
    finally:
        worker.close()
    return CheckReport(
        target=shown,
        api=api,
        time_limit=float(time_limit),
        functions=results,
        missing=[n for n in wanted if n not in found],
    )


# --------------------------------------------------------------------------
# the report


def _fmt_err(value):
    return "-" if value is None else f"{value:.1e}"


def _fmt_ms(seconds):
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.1f}"


def _fmt_ratio(ratio):
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def _fmt_params(params):
    def fmt(v):
        if isinstance(v, tuple):
            return "(" + ", ".join(map(str, v)) + ")"
        return str(v)

    return ", ".join(f"{k} {fmt(v)}" for k, v in params.items())


def _indent(text, prefix="      "):
    return "\n".join(prefix + line for line in text.splitlines())


def format_report(report):
    """Render the report as text: a table per function and a summary line.

    Parameters
    ----------
    report : CheckReport

    Returns
    -------
    str
    """
    out = [
        f"fastconv check: {report.target} (api {report.api}, time limit "
        f"{report.time_limit:g} s per call)"
    ]
    header = (
        f"  {'case':<26} {'result':<8} {'max abs err':>11} {'max rel err':>11} "
        f"{'yours ms':>10} {'fastconv ms':>11} {'speed-up':>9}"
    )
    for fr in report.functions:
        out.append("")
        verdict = "PASS" if fr.passed else "FAIL"
        out.append(
            f"{fr.name} -> {fr.returns}: {verdict} ({fr.n_passed}/{len(fr.cases)} cases)"
        )
        out.append(header)
        for c in fr.cases:
            speed = (
                _fmt_ratio(c.user_seconds / c.fast_seconds)
                if c.user_seconds is not None and c.fast_seconds
                else "-"
            )
            out.append(
                f"  {c.name:<26} {c.status:<8} {_fmt_err(c.max_abs):>11} "
                f"{_fmt_err(c.max_rel):>11} {_fmt_ms(c.user_seconds):>10} "
                f"{_fmt_ms(c.fast_seconds):>11} {speed:>9}"
            )
        bad = fr.first_failure
        if bad is not None:
            out.append(f"  first failure: {bad.name} ({_fmt_params(bad.params)})")
            out.append(f"    {bad.message}")
            if bad.note:
                out.append(f"    note: {bad.note}")
            if bad.traceback:
                out.append(_indent(_tail(bad.traceback)))
        wa, wr = fr.worst_abs, fr.worst_rel
        if wa is not None:
            out.append(
                f"  worst abs error {wa.max_abs:.2e} at {wa.max_abs_at} "
                f"(case {wa.name}); worst rel error {wr.max_rel:.2e} at "
                f"{wr.max_rel_at} (case {wr.name})"
            )
        if fr.speedup is not None:
            out.append(
                f"  time over {len(fr.timed)} cases: yours "
                f"{_fmt_ms(fr.user_seconds)} ms, fastconv "
                f"{_fmt_ms(fr.fast_seconds)} ms: speed-up "
                f"{_fmt_ratio(fr.speedup)}"
            )
    out.append("")
    passed = [f.name for f in report.functions if f.passed]
    failed = [f.name for f in report.functions if not f.passed]
    line = f"{len(passed)} of {len(report.functions)} functions pass"
    if failed:
        line += f"; failing: {', '.join(failed)}"
    out.append(line)
    if report.missing:
        out.append(f"not found (not checked): {', '.join(report.missing)}")
    return "\n".join(out)


# --------------------------------------------------------------------------
# command line


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}")
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_arguments(parser):
    """Options of ``python -m fastconv check``."""
    parser.add_argument(
        "target",
        metavar="PATH_OR_MODULE",
        help="your .py file, or an importable module name",
    )
    parser.add_argument(
        "--api",
        default="dlai",
        metavar="{dlai,cs231n}",
        help="which course's function names and signatures (default dlai)",
    )
    parser.add_argument(
        "--time-limit",
        type=_positive_float,
        default=DEFAULT_TIME_LIMIT,
        metavar="SECONDS",
        help=f"time allowed per call (default {DEFAULT_TIME_LIMIT:g})",
    )
    parser.add_argument(
        "--function",
        action="append",
        dest="functions",
        metavar="NAME",
        help="check only this function (repeatable)",
    )


def run(args):
    """Run ``python -m fastconv check``; return the exit status (0, 1 or 2)."""
    try:
        report = check(
            args.target, args.api, time_limit=args.time_limit, functions=args.functions
        )
    except UsageError as exc:
        print(f"fastconv check: error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    return report.exit_status
