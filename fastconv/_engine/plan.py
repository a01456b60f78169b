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
    pool_driver,
    registry,
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
from .geometry import check_layout, check_shape, conv_params, pool_out_shape, pool_window
from .prepared import PREPARE, PreparedWeight

__all__ = [
    "ConvPlan",
    "PreparedWeight",
    "PoolPlan",
    "plan_conv",
    "plan_pool",
    "cached",
]


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
        # each pass's algorithm (the registry's entries)
        self.algos = {p: registry.get(name) for p, name in self.passes.items()}
        self.algorithm = self.passes["forward"]
        self.planes = algorithms.planes_of(shapes)
        self._tile_im2col(shapes)
        # an algorithm whose forward pass cuts its work otherwise (pointwise)
        self.algos["forward"].tile(self)
        # scratch: the largest any algorithm of the plan needs per thread and
        # per slot, and what the call shares (the tiling's own included)
        base = (
            self.algos["forward"]
            if self.algos["forward"].all_or_none
            else registry.TILING
        )
        runs = {}
        for p, alg in self.algos.items():
            runs.setdefault(alg, []).append(p)
        needs = [base.workspace(self, ())] + [
            alg.workspace(self, tuple(ps)) for alg, ps in runs.items()
        ]
        per_thread, partial, shared = (max(n) for n in zip(*needs))
        threads = min(cpu.usable_cores(), max(self.items, 1))
        self.workspace_bytes = (
            threads * per_thread + self.slots * partial + shared
        ) * self.dtype.itemsize
        self.flops = shapes.flops
        self.parallel = self.flops >= config.MIN_PARALLEL_FLOPS

    def _tile_im2col(self, shapes):
        """Set the im2col tiling: forward bands; backward slots and channel units.

        Every plan has it: the fused im2col kernels run any pass the
        selector gives them, and an algorithm that cuts its forward pass
        otherwise changes what it needs in :meth:`Algorithm.tile`.
        """
        win = shapes.win
        K = shapes.Cg * win.KH * win.KW  # GEMM depth of a group
        row_bytes = max(1, K * win.OW * self.dtype.itemsize)
        self.merge_batch = False
        limit = workspace.get_workspace_limit() or 2**62
        rows = max(
            config.TILE_BYTES // row_bytes,
            -(-config.MIN_TILE_COLUMNS // max(win.OW, 1)),
        )
        rows = min(max(win.OH, 1), max(1, min(rows, limit // 16 // row_bytes)))
        self.tile_rows = rows
        self.items = shapes.N * (-(-win.OH // rows) if win.OH else 0)
        self.cols_elems = rows * win.OW * K
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

    def exact_when_split(self, pass_: str) -> bool:
        """Whether `pass_` computes each output the same when the planes are cut.

        True when its results on chunks of the planes (with halos) equal
        the whole array's bit for bit, as :mod:`fastconv.dask` needs; False
        for Winograd, whose tiles start at the planes' origin.
        """
        return self.algos[pass_].split_exact

    @property
    def backward_flops(self):
        """Multiply-adds x 2 of the backward pass (grad_x and grad_weight)."""
        return 2 * self.flops

    def forward(
        self,
        x: ArrayLike,
        weight: Union[ArrayLike, PreparedWeight],
        bias: Optional[ArrayLike] = None,
    ) -> np.ndarray:
        """Run the convolution on arrays of the plan's shapes.

        Parameters
        ----------
        x : array_like of shape ``x_shape``
        weight : array_like of shape ``weight_shape``, or PreparedWeight
            A :class:`PreparedWeight` from this plan's :meth:`prepare_weight`
            skips the weight's transforms (an inference loop's fixed weight).
        bias : array_like of shape (F,), optional

        Returns
        -------
        out : ndarray of shape ``out_shape`` and dtype ``result_dtype``
        """
        prepared = None
        if isinstance(weight, PreparedWeight):
            if weight.key != self._prepared_key():
                raise ValueError(
                    "weight is a PreparedWeight of another layer or algorithm: "
                    "prepare it with this plan's prepare_weight"
                )
            prepared, weight = weight.state, weight.weight
        x, weight, bias = conv_driver.check_arrays(self, x, weight, bias)
        out = conv_driver.forward(self, x, weight, bias, prepared)
        return out.astype(self.result_dtype, copy=False)

    def prepare_weight(self, weight: ArrayLike) -> PreparedWeight:
        """Prepare a fixed weight once for many :meth:`forward` calls.

        The plan's forward algorithm transforms or reorders the weight on
        every call (Winograd's transform U, the NHWC direct kernels' weight
        layouts); prepared, it does so once. The weight is copied: changing
        the array afterwards does not change the prepared one.

        Parameters
        ----------
        weight : array_like of shape ``weight_shape``

        Returns
        -------
        PreparedWeight
            Pass it as :meth:`forward`'s `weight`.

        Examples
        --------
        >>> import numpy as np, fastconv
        >>> plan = fastconv.plan_conv2d((2, 32, 16, 16), (32, 32, 3, 3), np.float32,
        ...                             padding=1, algorithm="winograd-4x4")
        >>> w = np.ones((32, 32, 3, 3), np.float32)
        >>> pw = plan.prepare_weight(w)  # U transformed once
        >>> x = np.ones((2, 32, 16, 16), np.float32)
        >>> bool(np.array_equal(plan.forward(x, pw), plan.forward(x, w)))
        True
        """
        w = conv_driver.check_weight(self, weight)
        w = w.copy() if np.may_share_memory(w, weight) else w  # a snapshot, its own
        empty = 0 in self.out_shape  # the forward pass returns at once
        state = None if empty else self.algos["forward"].prepare(self, w)
        return PreparedWeight(PREPARE, self._prepared_key(), w, state)

    def _prepared_key(self):
        """Return what a prepared weight depends on: shapes, dtype, forward algorithm."""
        return (self.shapes, self.dtype.name, self.algos["forward"].name)

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
    return plan.algos[pass_].describe(plan, pass_)


def pass_items(plan, pass_):
    """Work items of one pass of `plan` (what its threads share)."""
    return plan.algos[pass_].items(plan, pass_)


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
    shapes = conv_params(x_shape, weight_shape, stride, padding, dilation, groups, layout)
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
    tasks : dict
        The parallel work of each pass (:func:`fastconv._engine.pool_driver.tasks`):
        a kernel, its arguments' names, items and bytes.
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
        self.out_shape = pool_out_shape(x_shape, (win.OH, win.OW), layout)
        self.count_include_pad, self.divisor = count_include_pad, divisor
        nchw = layout == "NCHW"
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
        self.tasks = pool_driver.tasks(self)
        self.task_constants = dict(
            win=win,
            KH=win.KH,
            KW=win.KW,
            B=self.channel_blocks,
            inc=count_include_pad,
            div=divisor,
        )

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
        kernels = ", ".join(
            f"{k}: {t.kernel.__name__}" for k, t in self.tasks.items() if t is not None
        )
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
