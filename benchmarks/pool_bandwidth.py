"""Pooling against the memory bandwidth, max pooling with indices included.

Run ``python benchmarks/pool_bandwidth.py``: for each pooling layer of the
bench suite, in both layouts and dtypes, the median time of the forward
pass (and, for max pooling, the forward pass with ``return_indices=True``
and the backward pass from those indices), as a share of the time the
least bytes of the pass take at the copy bandwidth (a 128 MiB
``np.copyto``, bytes read plus written, measured as the bench measures it,
in this process). Forward: x read, out (and indices) written; backward:
grad_out, x (and indices) read, grad_x written. The bench (``python -m
fastconv bench``) reports the same for the passes without indices, against
PyTorch; this script adds the passes with them.
"""

import numpy as np

import fastconv
from fastconv.tools import suite
from fastconv.tools.bench_worker import _best as _median  # warm-up, median of 7


def copy_bandwidth():
    """Bytes read plus written per second by a 128 MiB np.copyto (best of 5)."""
    src = np.ones(1 << 25, np.float32)
    dst = np.empty_like(src)
    return 2 * src.nbytes / min(_median(lambda: np.copyto(dst, src), 1) for _ in range(5))


def main():
    """Print one line per layer, layout and dtype."""
    bw = copy_bandwidth()
    print(f"copy bandwidth {bw / 1e9:.1f} GB/s (read + write)")
    print("layer         layout dtype    pass                 ms   share of bandwidth")
    rng = np.random.default_rng(0)
    for layer in suite.POOL_LAYERS:
        for dtype in (np.float32, np.float64):
            for layout in ("NCHW", "NHWC"):
                x = rng.standard_normal(layer.x_shape(layout)).astype(dtype)
                kw = dict(layer.kwargs(), layout=layout)
                rows = []
                if layer.kind == "max":
                    out, idx = fastconv.max_pool2d(x, return_indices=True, **kw)
                    gy = np.ones_like(out)
                    moved = x.nbytes + out.nbytes
                    rows.append(("forward", moved, lambda: fastconv.max_pool2d(x, **kw)))
                    rows.append(
                        (
                            "forward, indices",
                            moved + idx.nbytes,
                            lambda: fastconv.max_pool2d(x, return_indices=True, **kw),
                        )
                    )
                    rows.append(
                        (
                            "backward, indices",
                            gy.nbytes + idx.nbytes + x.nbytes,
                            lambda: fastconv.max_pool2d_backward(
                                gy, x, indices=idx, **kw
                            ),
                        )
                    )
                else:
                    out = fastconv.avg_pool2d(x, **kw)
                    gy = np.ones_like(out)
                    rows.append(
                        (
                            "forward",
                            x.nbytes + out.nbytes,
                            lambda: fastconv.avg_pool2d(x, **kw),
                        )
                    )
                    rows.append(
                        (
                            "backward",
                            gy.nbytes + 2 * x.nbytes,
                            lambda: fastconv.avg_pool2d_backward(gy, x, **kw),
                        )
                    )
                for name, nbytes, fn in rows:
                    t = _median(fn)
                    print(
                        f"{layer.name:13s} {layout:6s} {np.dtype(dtype).name:8s} "
                        f"{name:18s} {t * 1e3:7.2f}   {100 * nbytes / bw / t:4.0f}%"
                    )


if __name__ == "__main__":
    main()
