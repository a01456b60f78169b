"""``python -m fastconv bench --dask``: a suite layer over a large batch on a cluster.

Three contenders, interleaved round by round: the in-process call (a bench
worker process, as ``bench`` runs it, on the whole batch), and
:func:`fastconv.dask.conv2d` (or the pooling functions) through a
``distributed.LocalCluster`` of 1 and of 2 worker processes, one thread each.
The batch lives on the workers (generated there and persisted, as a data set
loaded by them would be) and the result stays there (persisted, then
released): the figure is the cluster's throughput, not the client's
network. A graph of one-image chunks of an 8 x 8 layer gives the scheduler's
overhead per chunk.
"""

import logging
import os
import time

import numpy as np

from .contenders import Contender, Worker, wait_idle

__all__ = ["run_dask"]

#: Chunks in the batch, each of the suite layer's N images.
CHUNKS = 32
#: One-image chunks of the overhead graph.
TINY_CHUNKS = 200


def _graph(fd, layer, x, w, b):
    """Return the lazy forward pass of `layer` over the dask array x."""
    kw = layer.kwargs()
    if layer.kind == "conv":
        return fd.conv2d(x, w, b, **kw)
    if layer.kind == "max":
        return fd.max_pool2d(x, **kw)
    return fd.avg_pool2d(x, **kw)


class _Cluster:
    """A LocalCluster of `n` one-thread worker processes, the batch persisted on it."""

    def __init__(self, n, layer, layout, dtype, batch, chunk):
        import dask.array as da
        import distributed

        self.n = n
        self.cluster = distributed.LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
        self.client = distributed.Client(self.cluster)
        shape = (batch,) + tuple(layer.x_shape(layout))[1:]
        gen = da.random.default_rng(0)
        x = gen.standard_normal(shape, dtype=dtype, chunks=(chunk,) + shape[1:])
        self.x = self.client.persist(x)
        distributed.wait(self.x)
        self.pids = list(self.client.run(os.getpid).values())
        rng = np.random.default_rng(1)
        self.w = self.b = None
        if layer.kind == "conv":
            self.w = rng.standard_normal(layer.weight_shape(layout)).astype(dtype)
            self.b = rng.standard_normal(layer.F).astype(dtype)

    def run(self, fd, layer, x):
        """Seconds to compute the layer over x, its result kept on the workers."""
        import distributed

        t0 = time.perf_counter()
        y = self.client.persist(_graph(fd, layer, x, self.w, self.b))
        distributed.wait(y)
        seconds = time.perf_counter() - t0
        del y
        return seconds

    def close(self):
        """Stop the client and the cluster."""
        self.client.close()
        self.cluster.close()


def _tiny(layer):
    """Return `layer` on one 8 x 8 image (the overhead graph's chunks)."""
    H = max(8, (layer.kernel[0] - 1) * layer.dilation + 1)
    return layer._replace(name=layer.name + "-8x8", N=1, size=(H, H))


def run_dask(layer, dtype, layout, rounds, out):
    """Time `layer` over CHUNKS chunks of its N images; print and return the figures."""
    try:
        import dask.array as da

        import fastconv.dask as fd
    except ImportError as e:
        print(f"bench --dask: {e}", file=out)
        return None
    chunk = layer.N
    batch = chunk * CHUNKS
    spec = layer.spec(layout, np.dtype(dtype).name)
    spec["N"] = batch
    spec["x_shape"] = [batch] + list(spec["x_shape"][1:])
    spec["out_shape"] = [batch] + list(spec["out_shape"][1:])
    local = Worker(Contender("fastconv", "fastconv"))
    clusters = []
    try:
        local.ask(op="setup", spec=spec)
        clusters = [_Cluster(n, layer, layout, dtype, batch, chunk) for n in (1, 2)]
        tiny = _tiny(layer)
        tiny_x = {}
        for c in clusters:
            shape = (TINY_CHUNKS,) + tuple(tiny.x_shape(layout))[1:]
            x = da.random.default_rng(2).standard_normal(
                shape, dtype=dtype, chunks=(1,) + shape[1:]
            )
            tiny_x[c.n] = c.client.persist(x)
            c.run(fd, layer, c.x)  # warm-up: the workers compile and cache
            c.run(fd, tiny, tiny_x[c.n])
        samples = {"in-process": [], "1 worker": [], "2 workers": [], "per chunk": []}
        every = [local.proc.pid] + [p for c in clusters for p in c.pids]
        for _ in range(rounds):
            wait_idle([p for p in every if p != local.proc.pid])
            reply = local.ask(op="sample", **{"pass": "fwd"}, warm=0.05, min_time=0.2)
            samples["in-process"].append(reply["seconds"])
            for c in clusters:
                wait_idle([p for p in every if p not in c.pids])
                samples[f"{c.n} worker" + ("s" if c.n > 1 else "")].append(
                    c.run(fd, layer, c.x)
                )
            one = clusters[0]
            wait_idle([p for p in every if p not in one.pids])
            seconds = one.run(fd, tiny, tiny_x[1])
            samples["per chunk"].append(seconds / TINY_CHUNKS)
    finally:
        # last in, first out: each client restores dask's config as it found it
        for c in reversed(clusters):
            c.close()
        local.close()
    import dask
    import distributed

    print(
        f"fastconv bench --dask, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; "
        f"{os.cpu_count()} cores; dask {dask.__version__}, distributed "
        f"{distributed.__version__}; in-process: fastconv "
        f"{local.info.get('threads', '?')} threads, own process",
        file=out,
    )
    med = {k: float(np.median(v)) for k, v in samples.items()}
    rate = {k: batch / med[k] for k in ("in-process", "1 worker", "2 workers")}
    print(
        f"{layer.name} {layout} {np.dtype(dtype).name}, batch of {batch} images in "
        f"chunks of {chunk}, medians of {rounds} interleaved rounds:",
        file=out,
    )
    for k in ("in-process", "1 worker", "2 workers"):
        print(
            f"  {k:11s} {med[k] * 1e3:9.1f} ms  {rate[k]:9.0f} images/s  "
            f"{rate[k] / rate['in-process']:5.2f}x in-process",
            file=out,
        )
    print(
        f"  overhead per chunk (1 worker, {TINY_CHUNKS} one-image 8x8 chunks): "
        f"{med['per chunk'] * 1e3:.2f} ms",
        file=out,
    )
    return {
        "layer": layer.name,
        "layout": layout,
        "dtype": np.dtype(dtype).name,
        "batch": batch,
        "chunk": chunk,
        "rounds": rounds,
        "seconds": samples,
        "images_per_s": rate,
        "per_chunk_s": med["per chunk"],
    }
