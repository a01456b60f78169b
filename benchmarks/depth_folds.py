"""3-D pooling: the separable passes against the depth stack's copy alone.

Run ``python benchmarks/depth_folds.py``: for the bench suite's 3-D pooling
layers (NDHWC, both dtypes), the median time of ``max_pool3d`` /
``avg_pool3d`` as built (the 2-D pooling of every depth slice, then the
depth pass on the pooled columns) and of the 3-D convolution's depth stack
of the same x and window (:func:`fastconv._engine.depth.stack`, one group
per channel), which pooling through the stack would have to make before any
pooling. Interleaved, after a warm-up; see docs/algorithms.md ("Why two
depth folds").
"""

import time

import numpy as np

import fastconv
from fastconv._engine import depth
from fastconv._engine.geometry import conv_params
from fastconv.tools import suite

ROUNDS = 21


def _median_ms(times):
    return 1e3 * float(np.median(times))


def main():
    rng = np.random.default_rng(0)
    print("| layer | dtype | separable pooling ms | stack copy alone ms |")
    print("| --- | --- | --- | --- |")
    for layer in suite.LAYERS.values():
        if layer.kind not in ("max", "avg") or layer.ndim != 3:
            continue
        pool = fastconv.max_pool3d if layer.kind == "max" else fastconv.avg_pool3d
        k, s, p = layer.kernel, layer.stride, layer.padding
        for dtype in (np.float32, np.float64):
            x = rng.standard_normal(layer.x_shape("NHWC")).astype(dtype)
            C = x.shape[-1]
            # one filter per channel: the stack holds KD depth slices of x
            params = conv_params(x.shape, (*k, 1, C), s, p, 1, C, "NHWC")

            def pooled():
                return pool(x, k, s, p, layout="NDHWC")

            def stacked():
                return depth.stack(x, params)

            for _ in range(15):
                pooled(), stacked()
            a, b = [], []
            for _ in range(ROUNDS):
                t = time.perf_counter()
                pooled()
                a.append(time.perf_counter() - t)
                t = time.perf_counter()
                stacked()
                b.append(time.perf_counter() - t)
            name = np.dtype(dtype).name
            print(
                f"| {layer.name} | {name} | {_median_ms(a):.2f} | {_median_ms(b):.2f} |"
            )


if __name__ == "__main__":
    main()
