"""Error of every convolution algorithm against the float64 oracle, per suite layer.

Run ``python benchmarks/accuracy.py``: for one sample of each convolution
layer of the bench suite (unit-variance x and grad_out, weights scaled by
1/sqrt(fan-in)), prints max|error| / max|reference| of the forward pass,
grad_x and grad_weight of each algorithm that applies, forced with
``algorithm=``, in float32 and float64, as a markdown table ("-" for a pass
the algorithm does not implement, which runs as "auto" picks). The
reference is :mod:`fastconv.naive` in float64.
"""

import numpy as np

import fastconv
from fastconv import naive
from fastconv._engine import algorithms
from fastconv.tools import suite


def layer_errors(layer, layout, seed=0):
    """Yield (algorithm, float32 errors, float64 errors), errors (fwd, gx, gw)."""
    rng = np.random.default_rng(seed)
    x_shape = (1, *layer.x_shape(layout)[1:])
    w_shape = layer.weight_shape(layout)
    fan_in = np.prod(w_shape[1:]) if layout == "NCHW" else np.prod(w_shape[:3])
    kw = dict(layer.kwargs(), layout=layout)
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape) / np.sqrt(fan_in)
    y = naive.conv2d(x, w, **kw)
    gy = rng.standard_normal(y.shape)
    gx, gw, _ = naive.conv2d_backward(gy, x, w, **kw)
    refs = (y, gx, gw)
    shapes = fastconv.plan_conv2d(x_shape, w_shape, np.float64, **kw).shapes
    for alg in algorithms.NAMES[1:]:
        if algorithms.reason_not(alg, shapes) is not None:
            continue
        own = algorithms.implements(alg, shapes)
        errors = []
        for dtype in (np.float32, np.float64):
            xd, wd, gyd = x.astype(dtype), w.astype(dtype), gy.astype(dtype)
            got = (
                fastconv.conv2d(xd, wd, algorithm=alg, **kw),
                *fastconv.conv2d_backward(gyd, xd, wd, algorithm=alg, **kw)[:2],
            )
            errors.append(
                [
                    # a pass the algorithm does not implement runs as "auto" would
                    float(np.abs(g - r).max() / np.abs(r).max()) if p in own else None
                    for g, r, p in zip(got, refs, algorithms.PASSES)
                ]
            )
        yield alg, errors[0], errors[1]


def main():
    """Print the table."""
    print("| layer | layout | algorithm | float32 fwd / grad_x / grad_w | float64 |")
    print("| --- | --- | --- | --- | --- |")
    for layer in suite.CONV_LAYERS:
        for layout in ("NCHW", "NHWC"):
            for alg, e32, e64 in layer_errors(layer, layout):
                f32 = " / ".join("-" if e is None else f"{e:.1e}" for e in e32)
                f64 = " / ".join("-" if e is None else f"{e:.1e}" for e in e64)
                print(f"| {layer.name} | {layout} | {alg} | {f32} | {f64} |")


if __name__ == "__main__":
    main()
