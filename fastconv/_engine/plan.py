"""Plans: a checked convolution or pooling, its algorithm and split, ready to run.

A plan is built once from shapes, dtype and arguments. It carries the
geometry (:class:`~fastconv._engine.geometry.Window`), the group structure,
the algorithm chosen, the tiling of the work into items and slots, the
workspace and the FLOPs; the drivers (:mod:`.conv_driver`,
:mod:`.pool_driver`) execute it. The public functions keep small caches of
plans (:func:`cached`), so a training loop pays the checks of an unchanged
shape once.

How the work is cut (all of it from the shapes and the machine's cache
size, never from the thread count, so results are bitwise the same
whatever the number of threads):

- forward: items are (sample, band of output rows); a band's columns take
  about :data:`config.TILE_BYTES`, so they stay in cache between im2col and GEMM,
  but a band has at least :data:`config.MIN_TILE_COLUMNS` output positions (the
  GEMM's width), because a narrow GEMM costs more than a cache miss
  (measured: deep-3x3 float64 43 ms with 4-row bands of 56 positions,
  34 ms with whole samples of 196).
- backward: slots are fixed blocks of samples (at most :data:`config.MAX_SLOTS`);
  each sums its grad_weight and grad_bias into its own partial, and the
  partials are added in slot order at the end.
"""

import collections
import threading
from typing import Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import (
    algorithms,
    autotune,
    config,
    conv_driver,
    cpu,
    direct,
    pool_driver,
    winograd,
    workspace,
)
from .args import (
    as_pool_input,
    as_real_array,
    check_divisor_override,
    check_indices,
    dtype_rule,
    prepare,
)
from .geometry import check_layout, check_shape, conv_shapes, pool_out_shape, pool_window

__all__ = [
    "ConvPlan",
    "PoolPlan",
    "plan_conv",
    "plan_pool",
    "cached",
]

ALGORITHMS = ("im2col", "pointwise")


class ConvPlan:
    """A planned 2-D convolution: build with :func:`fastconv.plan_conv2d`.

    Attributes
    ----------
    layout : str
    x_shape, weight_shape, out_shape : tuple of int
    dtype : numpy.dtype
        The dtype the plan computes in (float32 or float64).
    result_dtype : numpy.dtype
        The dtype of its results (see the package's dtype rule).
    window : Window
        Padding, strides, dilation and output size.
    groups : int
    algorithm : str
        "pointwise" (1x1, unit stride, no padding: x is its own column
        matrix) or "im2col" (columns built tile by tile, then GEMMs).
    tile_rows : int
        Output rows per tile; a forward item is (sample, tile).
    items : int
        Forward work items, N * ceil(OH / tile_rows).
    slots : int
        Blocks of samples whose grad_weight and grad_bias the backward pass
        sums separately, then adds in order.
    units : int
        Channel blocks each slot is split into when there are too few
        samples to give every core a slot; a backward item is (slot, unit).
    workspace_bytes : int
        Scratch memory of the backward pass (the larger) with every thread
        busy: column tiles plus the slots' partial sums.
    flops : int
        Multiply-adds x 2 of the forward pass; the backward pass does twice
        as many (grad_x and grad_weight).
    """

    def __init__(self, shapes, dtype, algorithm="auto"):
        self.shapes = shapes
        self.dtype, self.result_dtype = dtype_rule(dtype)
        self.passes = algorithms.choose(shapes, self.dtype, algorithm)
        if algorithm == "auto" and autotune.get_autotune():
            self.passes = autotune.tuned_passes(
                shapes, self.dtype, lambda name: ConvPlan(shapes, self.dtype, name)
            )
        self.requested = algorithm
        win = shapes.win
        self.window = win
        self.layout = shapes.layout
        self.groups = shapes.groups
        self.x_shape, self.weight_shape, self.out_shape = (
            shapes.x_shape,
            shapes.weight_shape,
            shapes.out_shape,
        )
        # the pointwise settings when the plan runs "pointwise" (a forced
        # algorithm runs in every pass, so it is all passes or none)
        pointwise = self.passes["forward"] == "pointwise"
        self.algorithm = self.passes["forward"]
        self.planes = algorithms.planes_of(shapes)
        K = shapes.Cg * win.KH * win.KW  # GEMM depth of a group
        itemsize = self.dtype.itemsize
        row_bytes = max(1, K * win.OW * itemsize)
        # NHWC pointwise: the rows of x and of the output run on from one
        # sample into the next, so the forward pass treats the batch as one
        # tall image and cuts it into a few wide bands, each GEMM packing the
        # weight once for many rows (resnet-1x1: 4 bands of 392 rows instead
        # of 8 samples of 196, 5% faster)
        self.merge_batch = pointwise and self.layout == "NHWC"
        if self.merge_batch:
            tall = shapes.N * win.OH
            rows = max(
                -(-config.MIN_TILE_COLUMNS // max(win.OW, 1)),
                -(-tall // config.MAX_SLOTS),
            )
            rows = min(max(tall, 1), rows)
        elif pointwise:
            # no columns to keep in cache: a whole sample per item, unless the
            # batch is too small to give every core work
            rows = (
                win.OH
                if shapes.N >= config.POINTWISE_BANDS
                else max(1, -(-win.OH // config.POINTWISE_BANDS))
            )
        else:
            limit = workspace.get_workspace_limit() or 2**62
            rows = max(
                config.TILE_BYTES // row_bytes,
                -(-config.MIN_TILE_COLUMNS // max(win.OW, 1)),
            )
            rows = min(max(win.OH, 1), max(1, min(rows, limit // 16 // row_bytes)))
        self.tile_rows = rows
        tiles = -(-win.OH // rows) if win.OH else 0
        self.items = shapes.N * tiles
        if self.merge_batch:
            self.items = -(-(shapes.N * win.OH) // rows)
        self.cols_elems = 0 if pointwise else rows * win.OW * K
        partial = shapes.F * K + shapes.F
        budget = max(partial, (workspace.get_workspace_limit() or 2**62) // 2)
        self.slots = max(1, min(shapes.N, config.MAX_SLOTS, budget // max(partial, 1)))
        # too few samples to give every core a slot: split the channels too
        # (whole groups when there are several), so that N = 1 uses every core
        most = shapes.groups if shapes.groups > 1 else shapes.C
        self.units = max(1, min(most, -(-config.MAX_SLOTS // self.slots)))
        # NHWC with few channels: the columns are built transposed, each row a
        # run along the output width, where the NHWC columns' runs would be
        # only KW*C values long (lenet-c1: docs/results-2026-12-01.md)
        self.planar = (
            self.layout == "NHWC"
            and shapes.groups == 1
            and not pointwise
            and shapes.C * win.KW <= config.PLANAR_RUN
        )
        if self.planar:
            self.units = 1  # the transposed columns hold every channel
        share = -(-shapes.C // self.units) if shapes.groups == 1 else shapes.Cg
        # NHWC units with a share of one group sum their rows of grad_weight
        # apart and gather their weight rows: (KK*share, Fg) each
        self.unit_scratch = (
            2 * win.KH * win.KW * share * shapes.Fg
            if self.layout == "NHWC" and self.units > 1 and shapes.groups == 1
            else 0
        )
        if pointwise:
            # two plain GEMMs over the batch, split by their outputs: blocks of
            # filters for grad_weight, bands of rows for grad_x; no partials
            most = shapes.groups if shapes.groups > 1 else shapes.F
            self.filter_blocks = max(1, min(most, config.MAX_SLOTS))
            self.slots = self.units = 1
            self.unit_scratch = 0
            partial = 0
        threads = min(cpu.usable_cores(), max(self.items, 1))
        per_thread = self.cols_elems + self.unit_scratch
        if "direct" in self.passes.values():
            per_thread = max(per_thread, sum(direct.scratch_elems(self)))
        if any(a.startswith("winograd") for a in self.passes.values()):
            per_thread = max(per_thread, sum(winograd.scratch_elems(self)))
        shared = 0
        if self.passes["grad_w"].startswith("winograd"):  # (a*a, C, F) sums a slot
            a2 = (winograd.tile_size(self, "grad_w") + 2) ** 2
            partial = max(partial, a2 * shapes.C * shapes.F + shapes.F)
        if any(a.startswith("winograd") for a in self.passes.values()):
            shared = 36 * shapes.C * shapes.F  # the transformed weight, at most
        self.workspace_bytes = (
            threads * per_thread + self.slots * partial + shared
        ) * itemsize
        self.flops = shapes.flops
        self.parallel = self.flops >= config.MIN_PARALLEL_FLOPS

    @property
    def backward_flops(self):
        """Multiply-adds x 2 of the backward pass (grad_x and grad_weight)."""
        return 2 * self.flops

    def forward(
        self, x: ArrayLike, weight: ArrayLike, bias: Optional[ArrayLike] = None
    ) -> np.ndarray:
        """Run the convolution on arrays of the plan's shapes.

        Parameters
        ----------
        x : array_like of shape ``x_shape``
        weight : array_like of shape ``weight_shape``
        bias : array_like of shape (F,), optional

        Returns
        -------
        out : ndarray of shape ``out_shape`` and dtype ``result_dtype``
        """
        x, weight, bias = conv_driver.check_arrays(self, x, weight, bias)
        out = conv_driver.forward(self, x, weight, bias)
        return out.astype(self.result_dtype, copy=False)

    def backward(
        self, grad_out: ArrayLike, x: ArrayLike, weight: ArrayLike
    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Gradients of the convolution with respect to x, weight and bias.

        Parameters
        ----------
        grad_out : array_like of shape ``out_shape``
        x : array_like of shape ``x_shape``
        weight : array_like of shape ``weight_shape``

        Returns
        -------
        grad_x, grad_weight, grad_bias : ndarrays of shapes ``x_shape``,
            ``weight_shape`` and (F,), dtype ``result_dtype``
        """
        x, weight, _ = conv_driver.check_arrays(self, x, weight, None)
        grad_out = conv_driver.check_grad_out(self, grad_out)
        grads = conv_driver.backward(self, grad_out, x, weight)
        return tuple(g.astype(self.result_dtype, copy=False) for g in grads)

    def __repr__(self):
        s, w = self.shapes, self.window
        pad = (w.top, w.bottom, w.left, w.right)
        result = (
            ""
            if self.result_dtype == self.dtype
            else f" -> {np.dtype(self.result_dtype).name}"
        )
        lines = [
            f"ConvPlan({self.layout}, {np.dtype(self.dtype).name}{result})",
            f"  x {self.x_shape} * weight {self.weight_shape} -> {self.out_shape}",
            f"  window {w.KH}x{w.KW}, stride ({w.sh}, {w.sw}), "
            f"dilation ({w.dh}, {w.dw}), "
            f"padding {pad}, groups {self.groups} ({s.Cg} -> {s.Fg} channels each)",
        ]
        for name in algorithms.PASSES:
            lines.append(f"  {name + ':':9s}{_describe(self, name)}")
        lines += [
            f"  threads: {_threads_text(self)}; BLAS held at 1 thread during the call",
            f"  workspace {_size(self.workspace_bytes)}, "
            f"forward {self.flops / 1e9:.3g} GFLOP, "
            f"backward {self.backward_flops / 1e9:.3g} GFLOP",
        ]
        return "\n".join(lines)


def _describe(plan, pass_):
    """One line on how `pass_` runs: its algorithm and its work items."""
    s, w = plan.shapes, plan.window
    alg = plan.passes[pass_]
    K = s.Cg * w.KH * w.KW
    tiles = -(-w.OH // plan.tile_rows) if w.OH else 0
    if alg == "direct" and plan.layout == "NHWC":
        n = direct.items(plan)[algorithms.PASSES.index(pass_)]
        return f"direct, {n} items ({direct.describe_nhwc(plan, pass_)})"
    if alg == "direct":
        fwd, gx, gw = direct.items(plan)
        what = {
            "forward": f"{fwd} items (sample x group x block of filters)",
            "grad_x": f"{gx} items (sample x group)",
            "grad_w": f"{gw} items (one filter over the batch, dots by BLAS)",
        }[pass_]
        return f"direct, {what}"
    if alg.startswith("winograd"):
        n = winograd.items(plan, pass_)
        m = winograd.tile_size(plan, pass_)
        if pass_ == "grad_w":
            return f"{alg} F(3x3, {m}x{m}), {n} items (slots of samples)"
        rows = winograd.band_rows(plan, pass_)
        return (
            f"{alg}, {n} items (bands of {rows} rows of {m}x{m} output tiles "
            f"over the batch); {(m + 2) ** 2} GEMMs a band"
        )
    if alg == "pointwise":
        if pass_ == "forward":
            how = (
                f"bands of {plan.tile_rows} rows of the batch as one "
                f"{s.N * w.OH}-row image"
                if plan.merge_batch
                else f"{s.N} samples x {tiles} bands of {plan.tile_rows} rows"
            )
            return f"pointwise (x is the column matrix), {plan.items} items ({how})"
        if pass_ == "grad_w":
            return f"pointwise, {plan.filter_blocks} blocks of filters over the batch"
        return "pointwise, the forward's items"
    if pass_ == "forward":
        gemm = (
            f"({s.Fg} x {K}) @ ({K} x {plan.tile_rows * w.OW})"
            if plan.layout == "NCHW"
            else f"({plan.tile_rows * w.OW} x {K}) @ ({K} x {s.Fg})"
        )
        return (
            f"im2col, {plan.items} items ({s.N} samples x {tiles} tiles of "
            f"{plan.tile_rows} output rows); GEMM per tile and group {gemm}"
            + ("; planar columns (few channels)" if plan.planar else "")
        )
    together = plan.passes["grad_x"] == plan.passes["grad_w"]
    return (
        f"im2col, {plan.slots * plan.units} items ({plan.slots} slots of samples x "
        f"{plan.units} channel blocks)"
        + ("; grad_x and grad_w in one pass" if together else "")
    )


def pass_items(plan, pass_):
    """Work items of one pass of `plan` (what its threads share)."""
    alg = plan.passes[pass_]
    if alg == "direct":
        return direct.items(plan)[algorithms.PASSES.index(pass_)]
    if alg.startswith("winograd"):
        return winograd.items(plan, pass_)
    if alg == "pointwise":
        return plan.filter_blocks if pass_ == "grad_w" else plan.items
    return plan.items if pass_ == "forward" else plan.slots * plan.units


def _threads_text(plan):
    from . import threads

    n = threads.get_num_threads()
    if not plan.parallel:
        return "1 (too little work to split)"
    used = [
        len(threads.split(pass_items(plan, p), 2**62, n)) - 1 for p in algorithms.PASSES
    ]
    return f"{used[0]} forward, {max(used[1:])} backward (of {n})"


def _size(nbytes):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes} B"  # pragma: no cover


def plan_conv(
    x_shape,
    weight_shape,
    dtype,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    layout="NCHW",
    algorithm="auto",
):
    """Check the arguments and build a :class:`ConvPlan` (no cache)."""
    x_shape = check_shape(x_shape, "x_shape")
    weight_shape = check_shape(weight_shape, "weight_shape")
    shapes = conv_shapes(x_shape, weight_shape, stride, padding, dilation, groups, layout)
    return ConvPlan(shapes, dtype, algorithm)


# --------------------------------------------------------------------------
# the plan caches of the public functions

_caches: collections.defaultdict = collections.defaultdict(collections.OrderedDict)
_lock = threading.Lock()


def _freeze(value):
    """Return a hashable key for an argument that keeps its type (True is not 1)."""
    if isinstance(value, (tuple, list)):
        return ("seq", tuple(_freeze(v) for v in value))
    return (type(value), value)


def cached(kind, build, *key_args):
    """Return the plan ``build()`` for `key_args`, from the cache of `kind` if there.

    Arguments that cannot be hashed skip the cache (``build`` then raises
    the argument's error, or builds a plan that is not kept).
    """
    try:
        key = (
            _freeze(key_args),
            workspace.get_workspace_limit(),
            autotune.get_autotune(),
        )
        hash(key)
    except TypeError:
        return build()
    cache = _caches[kind]
    with _lock:
        plan = cache.get(key)
        if plan is not None:
            cache.move_to_end(key)
            return plan
    plan = build()
    with _lock:
        cache[key] = plan
        while len(cache) > config.PLAN_CACHE_SIZE:
            cache.popitem(last=False)
    return plan


# --------------------------------------------------------------------------
# pooling


class PoolPlan:
    """A planned 2-D max or average pooling (built by the pooling functions).

    Attributes
    ----------
    kind : {"max", "avg"}
    layout : str
    x_shape, out_shape : tuple of int
    dtype, result_dtype : numpy.dtype
    window : Window
    count_include_pad : bool
        Average pooling only.
    divisor : int
        Average pooling's divisor_override, 0 for none.
    kernels : dict
        The jitted kernel of each pass, by name.
    items : int
        Work items of the backward pass: N*C planes (NCHW) or N samples
        (NHWC), each NHWC sample cut into ``channel_blocks`` blocks of
        channels by the kernels that take them (1 unless there are fewer
        than two samples a core).
    forward_items : int
        Work items of the forward pass: N*C planes (NCHW) or N*OH output
        rows (NHWC).
    channel_blocks : int
    """

    def __init__(
        self, kind, layout, x_shape, dtype, win, count_include_pad=True, divisor=0
    ):
        self.kind, self.layout, self.x_shape, self.window = kind, layout, x_shape, win
        self.dtype, self.result_dtype = dtype_rule(dtype)
        self.out_shape = pool_out_shape(x_shape, win, layout)
        self.count_include_pad, self.divisor = count_include_pad, divisor
        nchw = layout == "NCHW"
        if kind == "avg":
            self.kernels = {
                "forward": f"avg_pool_{layout.lower()}",
                "backward": f"avg_pool_backward_{layout.lower()}",
            }
        elif nchw:
            self.kernels = {
                "forward": "max_pool_values_nchw",
                "forward with indices": "max_pool_nchw",
                "backward": "max_pool_backward_nchw",
            }
        else:
            rows = "_rows" if x_shape[3] < config.POOL_ROWS_BELOW_CHANNELS else ""
            self.kernels = {
                "forward": f"max_pool_values_nhwc{rows}" if rows else "max_pool_nhwc",
                "forward with indices": f"max_pool_nhwc{rows}",
                "backward": f"max_pool_backward_nhwc{rows}",
            }
        # NCHW: planes (every kernel runs plane by plane, so one sample still
        # gives every core work); NHWC: output rows forward (n*OH + oh);
        # backward, samples (windows overlap across rows), cut into blocks of
        # channels when there are too few for two items per core (the
        # kernels that take blocks: from indices, and average pooling)
        N, C = (x_shape[0], x_shape[1]) if nchw else (x_shape[0], x_shape[3])
        self.items = N * C if nchw else N
        self.forward_items = self.items if nchw else N * self.out_shape[1]
        self.channel_blocks = 1
        if not nchw and N:
            want = -(-2 * cpu.usable_cores() // N)
            self.channel_blocks = max(1, min(want, C // config.POOL_MIN_CHANNEL_BLOCK))

    def forward(
        self, x: ArrayLike, return_indices: bool = False
    ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
        """Run the pooling on an x of the plan's shape.

        Parameters
        ----------
        x : array_like of shape ``x_shape``
        return_indices : bool
            Max pooling: also return each window's argmax (as
            :func:`fastconv.max_pool2d` does).

        Returns
        -------
        out : ndarray of shape ``out_shape`` and dtype ``result_dtype``
        indices : ndarray of int64, shape ``out_shape``
            Only with `return_indices`.
        """
        if not isinstance(return_indices, (bool, np.bool_)):
            raise TypeError(f"return_indices must be a bool, got {return_indices!r}")
        if return_indices and self.kind != "max":
            raise ValueError("return_indices is for max pooling, this plan is 'avg'")
        x = self._check_x(x)
        if self.kind == "avg":
            return pool_driver.avg_forward(self, x).astype(self.result_dtype, copy=False)
        out, idx = pool_driver.max_forward(self, x, bool(return_indices))
        out = out.astype(self.result_dtype, copy=False)
        return (out, idx) if return_indices else out

    def backward(
        self, grad_out: ArrayLike, x: ArrayLike, indices: Optional[ArrayLike] = None
    ) -> np.ndarray:
        """Gradient of the pooling with respect to x.

        Parameters
        ----------
        grad_out : array_like of shape ``out_shape``
        x : array_like of shape ``x_shape``
            The forward input (average pooling reads only its shape).
        indices : array_like of int, shape ``out_shape``, optional
            Max pooling: the forward's indices, as for
            :func:`fastconv.max_pool2d_backward`.

        Returns
        -------
        grad_x : ndarray of shape ``x_shape`` and dtype ``result_dtype``
        """
        x = self._check_x(x)
        grad_out = as_real_array(grad_out, "grad_out")
        if grad_out.shape != self.out_shape:
            raise ValueError(
                f"grad_out must have the output's shape {self.out_shape}, "
                f"got shape {grad_out.shape}"
            )
        grad_out = prepare(grad_out, self.dtype)
        if self.kind == "avg":
            if indices is not None:
                raise ValueError("indices are for max pooling, this plan is 'avg'")
            grad_x = pool_driver.avg_backward(self, grad_out)
        else:
            if indices is not None:
                indices = check_indices(indices, self.out_shape)
            grad_x = pool_driver.max_backward(self, grad_out, x, indices)
        return grad_x.astype(self.result_dtype, copy=False)

    def _check_x(self, x):
        x = as_pool_input(x, "x")
        if x.shape != self.x_shape:
            raise ValueError(
                f"x must have the plan's shape {self.x_shape}, got shape {x.shape}"
            )
        return prepare(x, self.dtype)

    def __repr__(self):
        w = self.window
        pad = (w.top, w.bottom, w.left, w.right)
        opts = ""
        if self.kind == "avg":
            opts = f", count_include_pad={self.count_include_pad}" + (
                f", divisor {self.divisor}" if self.divisor else ""
            )
        kernels = ", ".join(f"{k}: {v}" for k, v in self.kernels.items())
        what = ("planes",) * 2 if self.layout == "NCHW" else ("rows", "samples")
        blocks = (
            f" x {self.channel_blocks} channel blocks" if self.channel_blocks > 1 else ""
        )
        return "\n".join(
            [
                f"PoolPlan({self.kind}, {self.layout}, {np.dtype(self.dtype).name})",
                f"  x {self.x_shape} -> {self.out_shape}",
                f"  window {w.KH}x{w.KW}, stride ({w.sh}, {w.sw}), "
                f"dilation ({w.dh}, {w.dw}), "
                f"padding {pad}{opts}",
                f"  kernels: {kernels}",
                f"  split: {self.forward_items} {what[0]} forward, {self.items} "
                f"{what[1]}{blocks} backward, over the threads",
            ]
        )


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def plan_pool(
    kind,
    x_shape,
    dtype,
    kernel_size,
    stride,
    padding,
    dilation,
    ceil_mode,
    layout,
    count_include_pad=True,
    divisor_override=None,
):
    """Check the arguments of a pooling and build its :class:`PoolPlan`."""
    if kind not in ("max", "avg"):
        raise ValueError(f"kind must be 'max' or 'avg', got {kind!r}")
    if kind == "avg" and dilation != 1:
        raise ValueError(f"average pooling takes no dilation, got dilation={dilation!r}")
    layout = check_layout(layout)
    x_shape = check_shape(x_shape, "x_shape")
    ceil_mode = _check_bool(ceil_mode, "ceil_mode")
    hw = x_shape[2:4] if layout == "NCHW" else x_shape[1:3]
    win = pool_window(hw, kernel_size, stride, padding, dilation, ceil_mode)
    divisor = 0
    if kind == "avg":
        count_include_pad = _check_bool(count_include_pad, "count_include_pad")
        divisor = check_divisor_override(divisor_override)
    return PoolPlan(kind, layout, x_shape, dtype, win, count_include_pad, divisor)
