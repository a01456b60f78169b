"""The case battery of ``python -m fastconv check``: inputs, expected outputs.

For every course function the checker knows (:data:`SPECS`), a list of small
cases: the course's own examples, rebuilt from their seeds, plus the edge
cases where loop solutions typically go wrong (pad 0, stride > 1, windows
that do not tile the input, non-square inputs and filters, overlapping pools,
float32). Expected outputs come from :mod:`fastconv.naive`, the independent
oracle, evaluated in float64; the few helper functions (``zero_pad``,
``conv_single_step``, ...) are checked against their one-line definitions.
The fast contender that the user's time is compared with is the matching
engine-backed function of :mod:`fastconv.compat`.

Cases are built on first use and kept (they are small), so checking several
implementations in one process builds them once.
"""

import functools
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

import fastconv

from .. import naive
from ..compat import cs231n, dlai

__all__ = ["Case", "FunctionSpec", "APIS", "specs", "tolerance"]

# |got - expected| <= atol * max(1, max|expected|) + rtol * |expected|, by the
# dtype of the case's inputs: a float64 loop solution agrees with the oracle
# to ~1e-15; a float32 one carries float32 rounding.
TOLERANCES = {
    np.dtype(np.float64): dict(rtol=1e-7, atol=1e-9),
    np.dtype(np.float32): dict(rtol=1e-4, atol=1e-5),
}


def tolerance(dtype):
    """``dict(rtol=..., atol=...)`` for a case whose inputs have `dtype`."""
    return TOLERANCES[np.dtype(dtype)]


@dataclass(frozen=True)
class Case:
    """One call of a course function and what it must return.

    Attributes
    ----------
    name : str
        Short label, e.g. "pad-0".
    why : str
        Why the case is in the battery.
    params : dict
        The geometry, printed with a failure.
    args : tuple
        Positional arguments of the course function.
    kwargs : dict
        Keyword arguments of the course function.
    expected : tuple of ndarray
        One array per compared output of the function (see
        :attr:`FunctionSpec.outputs`), in float64 (bool for masks).
    dtype : numpy.dtype
        dtype of the inputs; selects the tolerance.
    forward : tuple or None
        ``(name, args)`` of the forward function whose cache a cs231n
        backward function needs: the user's own forward is run first and its
        cache replaces ``args[1]``, which holds the assignment's standard
        cache as a fallback.
    """

    name: str
    why: str
    params: dict
    args: tuple
    kwargs: dict
    expected: tuple
    dtype: np.dtype
    forward: Optional[tuple] = None


@dataclass(frozen=True)
class FunctionSpec:
    """A course function: its name, what it returns and how it is checked.

    Attributes
    ----------
    name : str
        The course's name of the function.
    returns : str
        The course's return value, e.g. "(Z, cache)".
    outputs : tuple of (str, int or None)
        The compared outputs: a label and the position in the returned tuple
        (None: the return value itself).
    tuple_len : int or None
        Length of the returned tuple, when it is one.
    fast : callable
        The fastconv engine's function with the same signature, timed for the
        speed-up (for cs231n's ``*_naive`` names, the ``*_fast`` one).
    build : callable
        ``build() -> list of Case``.
    """

    name: str
    returns: str
    outputs: tuple
    tuple_len: Optional[int]
    fast: Callable
    build: Callable = field(repr=False)

    def cases(self):
        """Return the case list, built once per process."""
        return _built(self.build)


@functools.lru_cache(maxsize=None)
def _built(build):
    return tuple(build())


def _course_rng(seed):
    # np.random.RandomState(seed) draws exactly the numbers the notebooks get
    # after np.random.seed(seed), without touching numpy's global state.
    return np.random.RandomState(seed)


def _rng(seed):
    return np.random.default_rng(seed)


def _f64(a):
    return np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------
# DeepLearning.AI: channels-last, W (f, f, n_C_prev, n_C), b (1, 1, 1, n_C)

# (name, why, (m, n_H_prev, n_W_prev, n_C_prev), f, n_C, stride, pad, dtype)
DLAI_CONV = [
    (
        "course-2021",
        "the 2021 notebook's conv_forward example",
        (2, 5, 7, 4),
        3,
        8,
        2,
        1,
        np.float64,
    ),
    (
        "course-2019",
        "the 2019 (v2a) notebook's conv_forward example",
        (10, 5, 7, 4),
        3,
        8,
        2,
        1,
        np.float64,
    ),
    (
        "course-backward",
        "the notebooks' conv_backward example: pad 2 > f/2",
        (10, 4, 4, 3),
        2,
        8,
        2,
        2,
        np.float64,
    ),
    ("pad-0", "X[pad:-pad] is empty when pad = 0", (2, 4, 5, 3), 3, 2, 1, 0, np.float64),
    (
        "stride-3-not-tiling",
        "stride 3 does not tile 8+2 rows: the last ones are dropped",
        (2, 8, 7, 2),
        3,
        3,
        3,
        1,
        np.float64,
    ),
    (
        "non-square-input",
        "n_H != n_W catches swapped loop bounds",
        (1, 4, 9, 2),
        2,
        3,
        1,
        1,
        np.float64,
    ),
    (
        "stride>f",
        "stride larger than the filter skips pixels",
        (2, 7, 7, 2),
        2,
        2,
        3,
        0,
        np.float64,
    ),
    ("1x1", "a 1x1 filter", (2, 3, 4, 5), 1, 2, 1, 0, np.float64),
    ("float32", "float32 inputs", (2, 6, 5, 3), 3, 4, 2, 1, np.float32),
]

# (name, why, (m, n_H_prev, n_W_prev, n_C_prev), f, stride, dtype); every
# case runs in both modes
DLAI_POOL = [
    (
        "course-stride-1",
        "the 2019/2021 notebooks' case 1: overlapping 3x3 windows",
        (2, 5, 5, 3),
        3,
        1,
        np.float64,
    ),
    (
        "course-stride-2",
        "the 2019/2021 notebooks' case 2: overlapping, stride 2",
        (2, 5, 5, 3),
        3,
        2,
        np.float64,
    ),
    (
        "course-2017",
        "the 2017 notebook's example: a single 3x3 window in 4x4",
        (2, 4, 4, 3),
        3,
        2,
        np.float64,
    ),
    (
        "course-backward",
        "the notebooks' pool_backward example (f 2, stride 1)",
        (5, 5, 3, 2),
        2,
        1,
        np.float64,
    ),
    ("tiling", "2x2 windows, stride 2, tiling the input", (2, 4, 6, 2), 2, 2, np.float64),
    (
        "not-tiling",
        "windows that do not tile: last row and column dropped",
        (2, 5, 7, 2),
        2,
        2,
        np.float64,
    ),
    ("stride>f", "stride larger than the window", (1, 7, 7, 2), 2, 3, np.float64),
    ("float32", "float32 inputs", (2, 6, 6, 3), 3, 2, np.float32),
]


def _dlai_conv_inputs(case_row, index):
    name, why, shape, f, n_C, stride, pad, dtype = case_row
    if name.startswith("course"):
        rs = _course_rng(1)
        A_prev = rs.randn(*shape)
        W = rs.randn(f, f, shape[3], n_C)
        b = rs.randn(1, 1, 1, n_C)
    else:
        g = _rng(100 + index)
        A_prev = g.standard_normal(shape)
        W = g.standard_normal((f, f, shape[3], n_C))
        b = g.standard_normal((1, 1, 1, n_C))
    A_prev, W, b = (a.astype(dtype) for a in (A_prev, W, b))
    hp = {"stride": stride, "pad": pad}
    params = dict(
        A_prev=shape, W=W.shape, stride=stride, pad=pad, dtype=np.dtype(dtype).name
    )
    return name, why, A_prev, W, b, hp, params


def _dlai_conv_forward_cases():
    cases = []
    for i, row in enumerate(DLAI_CONV):
        name, why, A_prev, W, b, hp, params = _dlai_conv_inputs(row, i)
        Z = naive.conv2d(
            _f64(A_prev),
            _f64(W),
            _f64(b).reshape(-1),
            stride=hp["stride"],
            padding=hp["pad"],
            layout="NHWC",
        )
        cases.append(Case(name, why, params, (A_prev, W, b, hp), {}, (Z,), A_prev.dtype))
    return cases


def _dlai_conv_backward_cases():
    cases = []
    for i, row in enumerate(DLAI_CONV):
        name, why, A_prev, W, b, hp, params = _dlai_conv_inputs(row, i)
        kw = dict(stride=hp["stride"], padding=hp["pad"], layout="NHWC")
        Z = naive.conv2d(_f64(A_prev), _f64(W), _f64(b).reshape(-1), **kw)
        if name.startswith("course"):
            dZ = Z.astype(A_prev.dtype)  # the notebooks backpropagate Z itself
        else:
            dZ = _rng(200 + i).standard_normal(Z.shape).astype(A_prev.dtype)
        dA_prev, dW, db = naive.conv2d_backward(_f64(dZ), _f64(A_prev), _f64(W), **kw)
        cache = (A_prev, W, b, hp)  # the course's cache, as conv_forward's
        cases.append(
            Case(
                name,
                why,
                params,
                (dZ, cache),
                {},
                (dA_prev, dW, db.reshape(1, 1, 1, -1)),
                A_prev.dtype,
            )
        )
    return cases


def _dlai_pool_inputs(row, index):
    name, why, shape, f, stride, dtype = row
    out = fastconv.pool_output_shape(shape, f, stride, layout="NHWC")
    if name.startswith("course"):
        rs = _course_rng(1)
        A_prev = rs.randn(*shape)
        dA = rs.randn(*out)  # drawn next, as in the course
    else:
        g = _rng(300 + index)
        A_prev = g.standard_normal(shape)
        dA = g.standard_normal(out)
    return (
        name,
        why,
        A_prev.astype(dtype),
        dA.astype(dtype),
        {"f": f, "stride": stride},
        dict(A_prev=shape, f=f, stride=stride, dtype=np.dtype(dtype).name),
    )


def _dlai_pool_expected(A_prev, f, stride, mode, dA=None):
    x = _f64(A_prev)
    if dA is None:
        pool = naive.max_pool2d if mode == "max" else naive.avg_pool2d
        return pool(x, f, stride, layout="NHWC")
    grad = naive.max_pool2d_backward if mode == "max" else naive.avg_pool2d_backward
    return grad(_f64(dA), x, f, stride, layout="NHWC")


def _dlai_pool_cases(backward):
    cases = []
    for mode in dlai.MODES:
        for i, row in enumerate(DLAI_POOL):
            name, why, A_prev, dA, hp, params = _dlai_pool_inputs(row, i)
            params = dict(params, mode=mode)
            expected = _dlai_pool_expected(
                A_prev, hp["f"], hp["stride"], mode, dA if backward else None
            )
            args = (dA, (A_prev, hp)) if backward else (A_prev, hp)
            cases.append(
                Case(
                    f"{name} {mode}",
                    why,
                    params,
                    args,
                    {"mode": mode},
                    (expected,),
                    A_prev.dtype,
                )
            )
    return cases


def _dlai_zero_pad_cases():
    rows = [
        ("course-2019", "the 2019 notebook's example", (4, 3, 3, 2), 2, np.float64),
        ("course-2021", "the 2021 notebook's example", (4, 3, 3, 2), 3, np.float64),
        ("pad-0", "no padding at all", (2, 3, 4, 2), 0, np.float64),
        ("non-square", "n_H != n_W", (2, 3, 5, 1), 1, np.float64),
        ("float32", "float32 input", (1, 2, 2, 3), 2, np.float32),
    ]
    cases = []
    for i, (name, why, shape, pad, dtype) in enumerate(rows):
        X = (
            _course_rng(1).randn(*shape)
            if name.startswith("course")
            else _rng(400 + i).standard_normal(shape)
        ).astype(dtype)
        m, n_H, n_W, n_C = shape
        X_pad = np.zeros((m, n_H + 2 * pad, n_W + 2 * pad, n_C))
        X_pad[:, pad : pad + n_H, pad : pad + n_W, :] = X
        cases.append(
            Case(
                name,
                why,
                dict(X=shape, pad=pad, dtype=np.dtype(dtype).name),
                (X, pad),
                {},
                (X_pad,),
                X.dtype,
            )
        )
    return cases


def _dlai_conv_single_step_cases():
    rows = [
        ("course", "the notebooks' example", 1, (4, 4, 3), np.float64),
        ("course-test", "the 2021 public test (seed 3)", 3, (5, 5, 3), np.float64),
        ("non-square", "a 2x3 window", 500, (2, 3, 4), np.float64),
        ("float32", "float32 inputs", 501, (3, 3, 2), np.float32),
    ]
    cases = []
    for name, why, seed, shape, dtype in rows:
        if name.startswith("course"):
            rs = _course_rng(seed)
            a, W, b = rs.randn(*shape), rs.randn(*shape), rs.randn(1, 1, 1)
        else:
            g = _rng(seed)
            a, W, b = (g.standard_normal(s) for s in (shape, shape, (1, 1, 1)))
        a, W, b = (x.astype(dtype) for x in (a, W, b))
        Z = np.sum(_f64(a) * _f64(W)) + _f64(b).item()
        cases.append(
            Case(
                name,
                why,
                dict(a_slice_prev=shape, dtype=np.dtype(dtype).name),
                (a, W, b),
                {},
                (np.asarray(Z),),
                a.dtype,
            )
        )
    return cases


def _dlai_mask_cases():
    rows = [
        ("course", "the notebooks' example", _course_rng(1).randn(2, 3)),
        (
            "course-test",
            "the 2021 test: an integer window",
            np.array([[-1, 2, 3], [2, -3, 2], [1, 5, -2]]),
        ),
        (
            "all-negative",
            "a maximum below zero (initialising max to 0 fails)",
            -1.0 - _rng(600).random((3, 3)),
        ),
        (
            "float32",
            "float32 window",
            _rng(601).standard_normal((2, 2)).astype(np.float32),
        ),
    ]
    return [
        Case(
            name,
            why,
            dict(x=x.shape, dtype=x.dtype.name),
            (x,),
            {},
            (x == x.max(),),
            np.result_type(x.dtype, np.float32),
        )
        for name, why, x in rows
    ]


def _dlai_distribute_cases():
    rows = [
        ("course", "the notebooks' example", 2, (2, 2)),
        ("course-test", "the 2021 test", 100, (10, 10)),
        ("non-square", "a 2x3 window", -3.0, (2, 3)),
        ("1x1", "a 1x1 window keeps the value", 1.5, (1, 1)),
    ]
    return [
        Case(
            name,
            why,
            dict(dz=dz, shape=shape),
            (dz, shape),
            {},
            (np.full(shape, dz / (shape[0] * shape[1])),),
            np.dtype(np.float64),
        )
        for name, why, dz, shape in rows
    ]


DLAI = (
    FunctionSpec(
        "zero_pad", "X_pad", (("X_pad", None),), None, dlai.zero_pad, _dlai_zero_pad_cases
    ),
    FunctionSpec(
        "conv_single_step",
        "Z",
        (("Z", None),),
        None,
        dlai.conv_single_step,
        _dlai_conv_single_step_cases,
    ),
    FunctionSpec(
        "conv_forward",
        "(Z, cache)",
        (("Z", 0),),
        2,
        dlai.conv_forward,
        _dlai_conv_forward_cases,
    ),
    FunctionSpec(
        "conv_backward",
        "(dA_prev, dW, db)",
        (("dA_prev", 0), ("dW", 1), ("db", 2)),
        3,
        dlai.conv_backward,
        _dlai_conv_backward_cases,
    ),
    FunctionSpec(
        "pool_forward",
        "(A, cache)",
        (("A", 0),),
        2,
        dlai.pool_forward,
        functools.partial(_dlai_pool_cases, False),
    ),
    FunctionSpec(
        "pool_backward",
        "dA_prev",
        (("dA_prev", None),),
        None,
        dlai.pool_backward,
        functools.partial(_dlai_pool_cases, True),
    ),
    FunctionSpec(
        "create_mask_from_window",
        "mask",
        (("mask", None),),
        None,
        dlai.create_mask_from_window,
        _dlai_mask_cases,
    ),
    FunctionSpec(
        "distribute_value",
        "a",
        (("a", None),),
        None,
        dlai.distribute_value,
        _dlai_distribute_cases,
    ),
)


# --------------------------------------------------------------------------
# cs231n: channels-first, w (F, C, HH, WW), b (F,)

# (name, why, x shape, w shape, stride, pad, dtype)
CS231N_CONV = [
    (
        "course",
        "the notebook's correct_out check (linspace inputs)",
        (2, 3, 4, 4),
        (3, 3, 4, 4),
        2,
        1,
        np.float64,
    ),
    (
        "course-gradcheck",
        "the notebook's gradient check (np.random.seed(231))",
        (4, 3, 5, 5),
        (2, 3, 3, 3),
        1,
        1,
        np.float64,
    ),
    (
        "pad-0",
        "x_pad[pad:-pad] is empty when pad = 0",
        (2, 3, 5, 5),
        (2, 3, 3, 3),
        1,
        0,
        np.float64,
    ),
    (
        "non-square-filter",
        "a 2x4 filter: HH and WW must not be mixed up",
        (2, 2, 6, 7),
        (3, 2, 2, 4),
        1,
        1,
        np.float64,
    ),
    (
        "not-divisible",
        "H + 2*pad - HH not divisible by the stride (rows dropped)",
        (2, 3, 8, 7),
        (2, 3, 3, 3),
        2,
        1,
        np.float64,
    ),
    (
        "non-square-input",
        "H != W, pad = HH - 1",
        (2, 1, 5, 9),
        (2, 1, 3, 3),
        2,
        2,
        np.float64,
    ),
    (
        "stride>kernel",
        "stride larger than the filter",
        (1, 2, 9, 9),
        (2, 2, 2, 2),
        3,
        0,
        np.float64,
    ),
    ("float32", "float32 inputs", (2, 3, 6, 6), (4, 3, 3, 3), 2, 1, np.float32),
]

# (name, why, x shape, (pool_height, pool_width), stride, dtype)
CS231N_POOL = [
    (
        "course",
        "the notebook's correct_out check (linspace input)",
        (2, 3, 4, 4),
        (2, 2),
        2,
        np.float64,
    ),
    (
        "course-gradcheck",
        "the notebook's gradient check (np.random.seed(231))",
        (3, 2, 8, 8),
        (2, 2),
        2,
        np.float64,
    ),
    ("overlapping", "3x3 pools, stride 1, overlap", (2, 2, 5, 5), (3, 3), 1, np.float64),
    (
        "not-tiling",
        "2x2 pools, stride 2 over 5x7: last row and column dropped",
        (2, 2, 5, 7),
        (2, 2),
        2,
        np.float64,
    ),
    (
        "non-square-pool",
        "a 2x3 pool: pool_height and pool_width must not be mixed up",
        (2, 2, 6, 7),
        (2, 3),
        2,
        np.float64,
    ),
    ("stride>pool", "stride larger than the pool", (1, 2, 7, 7), (2, 2), 3, np.float64),
    ("float32", "float32 input", (2, 3, 6, 6), (2, 2), 2, np.float32),
]


def _cs231n_conv_inputs(row, index):
    name, why, xs, ws, stride, pad, dtype = row
    F = ws[0]
    out_shape = fastconv.conv_output_shape(xs, ws, stride, pad)
    if name == "course":
        x = np.linspace(-0.1, 0.5, num=np.prod(xs)).reshape(xs)
        w = np.linspace(-0.2, 0.3, num=np.prod(ws)).reshape(ws)
        b = np.linspace(-0.1, 0.2, num=F)
        dout = _rng(700).standard_normal(out_shape)
    elif name == "course-gradcheck":
        rs = _course_rng(231)
        x, w, b, dout = rs.randn(*xs), rs.randn(*ws), rs.randn(F), rs.randn(*out_shape)
    else:
        g = _rng(700 + index)
        x, w, b, dout = (g.standard_normal(s) for s in (xs, ws, (F,), out_shape))
    x, w, b, dout = (a.astype(dtype) for a in (x, w, b, dout))
    conv_param = {"stride": stride, "pad": pad}
    params = dict(x=xs, w=ws, stride=stride, pad=pad, dtype=np.dtype(dtype).name)
    return name, why, x, w, b, dout, conv_param, params


def _cs231n_conv_cases(backward, kind):
    cases = []
    for i, row in enumerate(CS231N_CONV):
        name, why, x, w, b, dout, cp, params = _cs231n_conv_inputs(row, i)
        kw = dict(stride=cp["stride"], padding=cp["pad"])
        if backward:
            expected = naive.conv2d_backward(_f64(dout), _f64(x), _f64(w), **kw)
            cases.append(
                Case(
                    name,
                    why,
                    params,
                    (dout, (x, w, b, cp)),
                    {},
                    tuple(expected),
                    x.dtype,
                    forward=(f"conv_forward_{kind}", (x, w, b, cp)),
                )
            )
        else:
            out = naive.conv2d(_f64(x), _f64(w), _f64(b), **kw)
            cases.append(Case(name, why, params, (x, w, b, cp), {}, (out,), x.dtype))
    return cases


def _cs231n_pool_cases(backward, kind):
    cases = []
    for i, (name, why, xs, (ph, pw), stride, dtype) in enumerate(CS231N_POOL):
        out_shape = fastconv.pool_output_shape(xs, (ph, pw), stride)
        if name == "course":
            x = np.linspace(-0.3, 0.4, num=np.prod(xs)).reshape(xs)
            dout = _rng(800).standard_normal(out_shape)
        elif name == "course-gradcheck":
            rs = _course_rng(231)
            x, dout = rs.randn(*xs), rs.randn(*out_shape)
        else:
            g = _rng(800 + i)
            x, dout = g.standard_normal(xs), g.standard_normal(out_shape)
        x, dout = x.astype(dtype), dout.astype(dtype)
        pp = {"pool_height": ph, "pool_width": pw, "stride": stride}
        params = dict(x=xs, pool=(ph, pw), stride=stride, dtype=np.dtype(dtype).name)
        if backward:
            dx = naive.max_pool2d_backward(_f64(dout), _f64(x), (ph, pw), stride)
            cases.append(
                Case(
                    name,
                    why,
                    params,
                    (dout, (x, pp)),
                    {},
                    (dx,),
                    x.dtype,
                    forward=(f"max_pool_forward_{kind}", (x, pp)),
                )
            )
        else:
            out = naive.max_pool2d(_f64(x), (ph, pw), stride)
            cases.append(Case(name, why, params, (x, pp), {}, (out,), x.dtype))
    return cases


def _cs231n_specs(kind):
    # the user's *_naive and *_fast functions are both timed against the
    # engine (compat's *_fast), never against the slow oracle
    return (
        FunctionSpec(
            f"conv_forward_{kind}",
            "(out, cache)",
            (("out", 0),),
            2,
            cs231n.conv_forward_fast,
            functools.partial(_cs231n_conv_cases, False, kind),
        ),
        FunctionSpec(
            f"conv_backward_{kind}",
            "(dx, dw, db)",
            (("dx", 0), ("dw", 1), ("db", 2)),
            3,
            cs231n.conv_backward_fast,
            functools.partial(_cs231n_conv_cases, True, kind),
        ),
        FunctionSpec(
            f"max_pool_forward_{kind}",
            "(out, cache)",
            (("out", 0),),
            2,
            cs231n.max_pool_forward_fast,
            functools.partial(_cs231n_pool_cases, False, kind),
        ),
        FunctionSpec(
            f"max_pool_backward_{kind}",
            "dx",
            (("dx", None),),
            None,
            cs231n.max_pool_backward_fast,
            functools.partial(_cs231n_pool_cases, True, kind),
        ),
    )


CS231N = _cs231n_specs("naive") + _cs231n_specs("fast")

APIS = {"dlai": DLAI, "cs231n": CS231N}


def specs(api):
    """Return the function specs of `api` ("dlai" or "cs231n"); KeyError otherwise."""
    return APIS[api]
