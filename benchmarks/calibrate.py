"""Fit the cost model "auto" uses to choose between im2col and Winograd.

Run ``python benchmarks/calibrate.py``: times the forward pass of a set of
3x3 stride-1 layers with each of "im2col", "winograd-2x2" and
"winograd-4x4" forced (interleaved, median of 5 after a warm-up), in
float32 and float64, NCHW and NHWC, then fits per dtype and layout the
seconds per unit of each feature of :func:`fastconv._engine.algorithms.features`
(non-negative least squares on relative error), and prints the fitted
``COST`` table for ``fastconv/_engine/config.py`` and, per layer, the
measured and predicted times and whether the model's choice is the
fastest, and what "auto" (with the stored table and the accuracy rule
for F(4x4, 3x3) in float32) runs.
"""

import time

import numpy as np

import fastconv
from fastconv._engine import algorithms

ALGORITHMS = ("im2col", "winograd-2x2", "winograd-4x4")

#: (N, C, H = W, F): 3x3, stride 1, padding 1
LAYERS = [
    (8, 64, 56, 64),
    (1, 64, 56, 64),
    (16, 256, 14, 256),
    (8, 512, 7, 512),
    (4, 128, 28, 128),
    (2, 128, 56, 128),
    (8, 32, 32, 32),
    (16, 32, 16, 64),
    (32, 64, 8, 64),
    (4, 64, 112, 32),
]


def _arrays(layer, layout, dtype, rng):
    N, C, H, F = layer
    if layout == "NCHW":
        return rng.standard_normal((N, C, H, H)).astype(dtype), rng.standard_normal(
            (F, C, 3, 3)
        ).astype(dtype)
    return rng.standard_normal((N, H, H, C)).astype(dtype), rng.standard_normal(
        (3, 3, C, F)
    ).astype(dtype)


def measure(layout, dtype, rounds=5):
    """Yield (layer, shapes, {algorithm: median seconds of the forward pass})."""
    rng = np.random.default_rng(0)
    for layer in LAYERS:
        x, w = _arrays(layer, layout, dtype, rng)
        kw = dict(padding=1, layout=layout)
        times = {a: [] for a in ALGORITHMS}
        for a in ALGORITHMS:
            fastconv.conv2d(x, w, algorithm=a, **kw)
        for _ in range(rounds):
            for a in ALGORITHMS:
                t0 = time.perf_counter()
                fastconv.conv2d(x, w, algorithm=a, **kw)
                times[a].append(time.perf_counter() - t0)
        shapes = fastconv.plan_conv2d(x.shape, w.shape, dtype, **kw).shapes
        yield layer, shapes, {a: float(np.median(t)) for a, t in times.items()}


def nnls(A, b):
    """Least squares with non-negative coefficients (drop the most negative, refit)."""
    keep = list(range(A.shape[1]))
    while True:
        c = np.linalg.lstsq(A[:, keep], b, rcond=None)[0]
        if (c >= 0).all():
            out = np.zeros(A.shape[1])
            out[keep] = c
            return out
        keep.pop(int(np.argmin(c)))


def fit(rows, dtype):
    """Coefficients (im2col, Winograd) from rows of (algorithm, shapes, seconds)."""
    coef = []
    for family in (("im2col",), ("winograd-2x2", "winograd-4x4")):
        sel = [(a, s, t) for a, s, t in rows if a in family]
        A = np.array([algorithms.features(a, s, dtype, "forward") for a, s, _ in sel])
        b = np.array([t for _, _, t in sel])
        # relative error: each row divided by its measured time
        coef.append(nnls(A / b[:, None], np.ones(len(b))))
    return coef


def main():
    """Measure, fit, print the table and the check per layer."""
    table = {}
    for dtype in ("float32", "float64"):
        for layout in ("NCHW", "NHWC"):
            measured = list(measure(layout, np.dtype(dtype)))
            rows = [(a, s, t) for _, s, ts in measured for a, t in ts.items()]
            coef = fit(rows, dtype)
            table[dtype, layout] = coef
            print(f"\n{dtype} {layout}: ms measured (predicted), model's pick")
            for layer, s, ts in measured:
                pred = {
                    a: float(
                        np.dot(
                            coef[0 if a == "im2col" else 1],
                            algorithms.features(a, s, dtype, "forward"),
                        )
                    )
                    for a in ALGORITHMS
                }
                pick = min(pred, key=pred.get)
                best = min(ts, key=ts.get)
                cells = "  ".join(
                    f"{a} {ts[a] * 1e3:6.2f} ({pred[a] * 1e3:6.2f})" for a in ALGORITHMS
                )
                loss = ts[pick] / ts[best]
                # what "auto" runs, with the stored COST and its accuracy rule
                auto = fastconv.plan_conv2d(
                    s.x_shape, s.weight_shape, dtype, padding=1, layout=layout
                ).passes["forward"]
                print(
                    f"  {layer}: {cells}  pick {pick} ({loss:.2f}x the fastest); "
                    f"auto runs {auto} ({ts[auto] / ts[best]:.2f}x)"
                )
    print("\nCOST = {")
    for (dtype, layout), (ci, cw) in table.items():
        fi = ", ".join(f"{v:.3e}" for v in ci)
        fw = ", ".join(f"{v:.3e}" for v in cw)
        print(f'    ("{dtype}", "{layout}"): (({fi}), ({fw})),')
    print("}")


if __name__ == "__main__":
    main()
