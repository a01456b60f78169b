"""A bench worker process: one contender, timed on request of the bench's parent.

Run as a script (``python path/to/bench_worker.py KIND``), never imported
by the engine. It reads one JSON request per line on stdin and answers one
JSON line on stdout (the real stdout; anything the libraries print goes to
stderr). KIND is "fastconv", "numpy", "torch" or "naive" (the oracle). The
fastconv it imports is whichever ``PYTHONPATH`` puts first, so the parent
can compare two source trees; the peers come from ``peers.py`` beside
this file, loaded by path, and use only fastconv's public functions.

Requests: ``hello`` (versions, threads, BLAS), ``setup`` (a layer spec:
build its inputs and callables and run each once; the "naive" kind only
keeps the spec), ``sample`` (an untimed warm-up of at least ``warm``
seconds and ``warm_calls`` calls, then ``number`` timed calls of one
pass), ``results`` (one call of each pass, its arrays saved in the
layout as ``PREFIX-fwd-0.npy``, ``PREFIX-bwd-0.npy``, ``PREFIX-bwd-1.npy``,
... for the parent to compare with fastconv's: only the paths travel
through the pipe), ``naive`` (the oracle on a slice of the batch,
scaled), ``machine`` (numpy's GEMM rate and copy bandwidth here), ``quit``.

For the bench's tests only: with ``FASTCONV_BENCH_TEST_PERTURB=fwd`` (or
``bwd``, or ``fwd,bwd``) in its environment (``--contender
fastconv:FASTCONV_BENCH_TEST_PERTURB=bwd``), a worker's ``results`` of
that pass have their first array's largest entry moved by 1% of its
magnitude (at least 0.01), a wrong result the parent must flag; nothing
else changes, the timed calls included.
"""

import importlib.util
import json
import math
import os
import sys
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _HERE:
    del sys.path[0]  # this folder's modules (profile.py, ...) must not shadow others

import numpy as np  # noqa: E402

#: The test-only variable that makes ``results`` return a wrong result.
PERTURB_VAR = "FASTCONV_BENCH_TEST_PERTURB"


def _load_peers():
    spec = importlib.util.spec_from_file_location(
        "fastconv_bench_peers", os.path.join(_HERE, "peers.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


peers = _load_peers()


def _blas():
    try:
        import threadpoolctl
    except ImportError:
        return {"library": "unknown (pip install threadpoolctl to see it)"}
    for pool in threadpoolctl.threadpool_info():
        if pool.get("user_api") == "blas":
            return {
                "library": pool.get("internal_api"),
                "version": pool.get("version"),
                "threads": pool.get("num_threads"),
                "core_type": pool.get("architecture"),
                "path": pool.get("filepath"),
            }
    return {"library": "none found"}


class Worker:
    """The state of one worker: its kind and the current layer's callables."""

    def __init__(self, kind):
        self.kind = kind
        self.spec = None
        self.calls = None
        self.arrays = None

    def hello(self, req):
        """Versions, threads and BLAS of this process."""
        info = {"kind": self.kind, "pid": os.getpid(), "numpy": np.__version__}
        if self.kind == "torch":
            import torch

            info["torch"] = torch.__version__
            info["threads"] = torch.get_num_threads()
        elif self.kind == "numpy":
            info["threads"] = _blas().get("threads", "?")
        else:
            import fastconv

            info["fastconv"] = getattr(fastconv, "__version__", "?")
            info["path"] = os.path.dirname(
                os.path.dirname(os.path.abspath(fastconv.__file__))
            )
            info["threads"] = fastconv.get_num_threads()
            import numba

            info["numba"] = numba.__version__
        info["blas"] = _blas()
        return info

    def setup(self, req):
        """Build the inputs and callables of a layer spec and run each once."""
        spec = req["spec"]
        self.spec = spec
        if self.kind == "naive":  # timed once, on a slice, by `naive`
            return {"ok": True}
        self.arrays = peers.make_inputs(spec)
        maker = {
            "fastconv": peers.fastconv_calls,
            "numpy": peers.numpy_calls,
            "torch": peers.torch_calls,
        }[self.kind]
        try:
            self.calls = maker(spec, *self.arrays)
        except Exception as e:  # a peer that cannot build this layer
            self.calls = None
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}
        if self.calls is None:
            return {"ok": False, "error": "not supported by this peer"}
        for fn in self.calls:
            fn()  # compile, warm the caches
        if self.kind == "fastconv" and spec["kind"] == "conv" and spec["ndim"] == 2:
            return {"ok": True, "algorithm": _algorithm(spec, *self.arrays[:2])}
        return {"ok": True}

    def sample(self, req):
        """Time one pass: an untimed warm-up, then `number` calls (calibrated if 0)."""
        fn = self.calls[0 if req["pass"] == "fwd" else 1]
        t0 = time.perf_counter()
        calls = 0
        while True:  # steady state: threads settled, new memory faulted in
            fn()
            calls += 1
            warm = time.perf_counter() - t0 >= req["warm"]
            if warm and calls >= req.get("warm_calls", 1):
                break
        number = req.get("number")
        if not number:
            t0 = time.perf_counter()
            fn()
            once = time.perf_counter() - t0
            number = max(1, min(1000, math.ceil(req["min_time"] / max(once, 1e-7))))
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return {"seconds": (time.perf_counter() - t0) / number, "number": number}

    def results(self, req):
        """Run each pass once and save its arrays as .npy files; return their paths.

        ``{"fwd": [path], "bwd": [path, ...]}``, the arrays in the order the
        pass returns them (:func:`peers.result_names`), each C-contiguous in
        the spec's layout, at ``req["prefix"]``-PASS-I.npy: the arrays stay
        out of the JSON pipe, and the parent reads them one at a time.
        """
        perturb = os.environ.get(PERTURB_VAR, "").split(",")
        out = {}
        for which, fn in zip(("fwd", "bwd"), self.calls):
            arrays = peers.result_arrays(self.spec, fn())
            if which in perturb:
                arrays[0] = _perturbed(arrays[0])
            out[which] = []
            for i, a in enumerate(arrays):
                path = f"{req['prefix']}-{which}-{i}.npy"
                np.save(path, np.ascontiguousarray(a))
                out[which].append(path)
        return out

    def naive(self, req):
        """Time the oracle on N/8 samples (at least 1), scaled to N."""
        spec = dict(self.spec)
        k = max(1, spec["N"] // 8)
        for key in ("x_shape", "out_shape"):
            spec[key] = [k] + list(spec[key][1:])
        spec["N"] = k
        fwd, bwd = peers.naive_calls(spec, *peers.make_inputs(spec))
        out = {"samples": k}
        for name, fn in (("fwd", fwd), ("bwd", bwd)):
            t0 = time.perf_counter()
            fn()
            out[name] = (time.perf_counter() - t0) * self.spec["N"] / k
        return out

    def machine(self, req):
        """Measure numpy's GEMM rate and copy bandwidth in this process."""
        rng = np.random.default_rng(0)
        gemm = {}
        n = 1024
        for dt in ("float32", "float64"):
            a = rng.standard_normal((n, n)).astype(dt)
            b = rng.standard_normal((n, n)).astype(dt)
            gemm[dt] = 2 * n**3 / _best(lambda: a @ b) / 1e9
        src = np.ones(1 << 25, np.float32)  # 128 MiB, beyond any cache
        dst = np.empty_like(src)
        copy = 2 * src.nbytes / _best(lambda: np.copyto(dst, src)) / 1e9
        return {"gemm_gflops": gemm, "copy_gbs": copy, **_fma_peak()}


def _fma_peak():
    """Measure the FMA peak of the threads a fastconv call uses, by its own tile.

    ``fma_gflops`` per dtype (one core's rate times the threads) and
    ``fma_threads``; empty where the fastconv imported has no tiles.
    """
    try:
        import fastconv

        peak = fastconv.fma_peak
    except (ImportError, AttributeError):
        return {}
    threads = fastconv.get_num_threads()
    rates = {dt: peak(dt) * threads for dt in ("float32", "float64")}
    return {"fma_gflops": rates, "fma_threads": threads}


def _algorithm(spec, x, w):
    """Return the algorithm "auto" picks for each pass of a conv layer ("fwd/gx/gw")."""
    import fastconv

    kw = dict(spec["kwargs"], layout=spec["layout"])
    try:
        passes = fastconv.plan_conv2d(x.shape, w.shape, x.dtype, **kw).passes
    except (AttributeError, TypeError):  # an engine before plans per pass
        return "?"
    names = [passes[p] for p in ("forward", "grad_x", "grad_w")]
    return names[0] if len(set(names)) == 1 else "/".join(names)


def _perturbed(a):
    """Return a copy of `a`, its largest entry moved by 1% of it (at least by 0.01)."""
    a = np.array(a, copy=True)
    if a.size:
        i = int(np.argmax(np.abs(a)))
        a.flat[i] += 0.01 * max(1.0, abs(float(a.flat[i])))
    return a


def _best(fn, rounds=7):
    fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main(argv):
    """Serve requests until ``quit`` or end of input."""
    kind = argv[1]
    out = os.fdopen(os.dup(1), "w", buffering=1)
    sys.stdout = sys.stderr  # library prints must not corrupt the protocol
    worker = Worker(kind)
    for line in sys.stdin:
        req = json.loads(line)
        op = req["op"]
        if op == "quit":
            break
        try:
            reply = getattr(worker, op)(req)
        except Exception as e:
            reply = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
