"""Running the passes of a plan whose algorithm is "direct".

NCHW (:mod:`fastconv._kernels.direct`): forward items are (sample, group,
block of filters), consecutive items of one sample and group sharing one
fill of the group's phase planes; grad_x items (sample, group); grad_weight
items one filter (a sum over every sample, in order).

NHWC (:mod:`fastconv._kernels.direct_nhwc`): with groups, every pass runs
along the groups (items: samples; grad_weight: slots of samples, summed in
slot order); without, the forward pass runs along the filters (items:
output rows) and grad_weight too (slots). Depthwise 3x3 layers (one
filter per channel, dilation 1, column stride 1 or 2) run their forward
pass, and at stride 1 their grad_x, on the register-blocked kernels of
:mod:`fastconv._kernels.depthwise_nhwc` (items: output rows).

Each piece takes its scratch from its thread's workspace.
"""

import numpy as np

from .._kernels import conv as _conv_kernels
from .._kernels import depthwise_nhwc as _kd
from .._kernels import direct as _k
from .._kernels import direct_nhwc as _kh
from . import blas, config, results, threads, workspace
from .algorithm import PASSES, Algorithm
from .geometry import conv_window

__all__ = [
    "Direct",
    "ENTRY",
    "forward",
    "grad_x",
    "grad_w",
    "items",
    "scratch_elems",
    "describe_nhwc",
]


def items(plan):
    """Work items of each pass: (forward, grad_x, grad_w)."""
    s = plan.shapes
    if plan.layout == "NHWC":
        slots = _slots(plan)
        if s.groups > 1:
            fwd = s.N * s.win.OH if _depthwise_3x3(plan) else s.N
            gx = s.N * s.win.H if _grad_x_window(plan) is not None else s.N
            return fwd, gx, slots
        return s.N * s.win.OH, 0, slots
    blocks = -(-s.Fg // _k.FILTER_BLOCK)
    return s.N * s.groups * blocks, s.N * s.groups, s.F


def describe_nhwc(plan, pass_):
    """Say what an item of an NHWC direct pass is, and which kernel runs it."""
    if pass_ == "grad_w":
        kind = "blocked depthwise 3x3" if _depthwise_3x3(plan) else "along the channels"
        return f"slots of samples, {kind}"
    if pass_ == "forward" and _depthwise_3x3(plan):
        return "output rows, blocked depthwise 3x3"
    if pass_ == "grad_x" and _grad_x_window(plan) is not None:
        return "rows of grad_x, blocked depthwise 3x3 on the flipped weight"
    if plan.groups > 1:
        return "samples, along the groups"
    return "output rows, along the filters"


def _depthwise_3x3(plan):
    """Whether the forward pass runs on the blocked depthwise 3x3 kernels."""
    s, w = plan.shapes, plan.shapes.win
    return (
        plan.layout == "NHWC"
        and s.Cg == s.Fg == 1
        and w.KH == w.KW == 3
        and w.dh == w.dw == 1
        and w.sw in _kd.forward_3x3
    )


def _grad_x_window(plan):
    """Return the window of grad_x as a forward pass over grad_out, or None.

    At stride 1, grad_x of a depthwise 3x3 layer is grad_out convolved with
    the flipped weights, padded by ``2 - padding`` on every side (which must
    not be negative); its output is x's (H, W).
    """
    w = plan.shapes.win
    if not (_depthwise_3x3(plan) and w.sh == w.sw == 1):
        return None
    pads = (2 - w.top, 2 - w.bottom, 2 - w.left, 2 - w.right)
    if min(pads) < 0 or w.OH == 0 or w.OW == 0:
        return None
    return conv_window((w.OH, w.OW), (3, 3), 1, pads, 1)


def _row_variants(plan, weight):
    """(8, 9, C) weights: variant m keeps the kernel rows i with bit i of m set."""
    C = plan.shapes.C
    taps = weight.reshape(3, 3, C)
    wz = np.zeros((8, 3, 3, C), plan.dtype)
    for m in range(8):
        for i in range(3):
            if m >> i & 1:
                wz[m, i] = taps[i]
    return wz.reshape(8, 9, C)


def _run_depthwise(plan, x, wz, bias, out, win):
    fn = _kd.forward_3x3[win.sw]

    args = ("x", "weight", "bias", "out", "win", "clock", "trace")
    values = dict(x=x, weight=wz, bias=bias, out=out, win=win)
    _run(plan, fn, args, x.shape[0] * win.OH, x.nbytes + out.nbytes, _kh, values)
    return out


def _local_buffers(plan):
    """Return the piece's two scratch buffers (:func:`_buffers`) as Locals."""
    buf0, buf1 = threads.locals_of(lambda: _buffers(plan), 2)
    return dict(buf0=buf0, buf1=buf1)


def _run(plan, kernel, args, items, nbytes, kernels, values):
    """Run `kernel` over `items` as a Task, the phases of its module `kernels`."""
    task = threads.Task(
        kernel, args, items, nbytes if plan.parallel else 0, phases=kernels.PHASES
    )
    threads.execute(task, values)


def _slots(plan):
    return max(1, min(plan.shapes.N, config.MAX_SLOTS))


def scratch_elems(plan):
    """Per-thread scratch of a piece: two element counts."""
    s, pl = plan.shapes, plan.planes
    if plan.layout == "NHWC":
        w = s.win
        return s.x_shape[1] * s.x_shape[2] * s.C, max(w.OW * s.F, 1)
    return s.Cg * pl.sh * pl.sw * pl.PS, _k.FILTER_BLOCK * pl.L


def _buffers(plan):
    planes, grid = scratch_elems(plan)
    return workspace.scratch(plan.dtype, (max(planes, 1),), (max(grid, 1),))


def _transposed(plan, weight):
    """Return the weight with the groups innermost (groups mode), once per call."""
    wt = np.empty(weight.size, plan.dtype)
    _kh.transpose_weight(weight, plan.groups, wt)
    return wt


def prepare(plan, weight):
    """Return the forward pass's weight as its kernels read it, or None.

    NHWC depthwise 3x3: the eight row variants; NHWC grouped: the weight
    with the groups innermost; otherwise the weight as stored (None).
    """
    if plan.layout != "NHWC":
        return None
    if _depthwise_3x3(plan):
        return _row_variants(plan, weight)
    if plan.groups > 1:
        return _transposed(plan, weight)
    return None


def forward(plan, x, weight, bias, prepared=None):
    """Output (compute dtype) of the direct forward pass (`prepared`: see prepare)."""
    out = results.empty(plan.out_shape, plan.dtype)
    if out.size == 0:
        return out
    if plan.layout == "NHWC":
        return _forward_nhwc(plan, x, weight, bias, out, prepared)
    has_bias = bias is not None
    b = bias if has_bias else out.reshape(-1)[:1]
    win, pl, groups = plan.window, plan.planes, plan.groups

    args = ("x", "weight", "bias", "has_bias", "out", "win", "planes", "groups")
    values = dict(x=x, weight=weight, bias=b, has_bias=has_bias, out=out, win=win)
    values.update(planes=pl, groups=groups, **_local_buffers(plan))
    args += ("buf0", "buf1", "clock", "trace")
    _run(plan, _k.forward_nchw, args, items(plan)[0], x.nbytes + out.nbytes, _k, values)
    return out


def grad_x(plan, grad_out, weight):
    """grad_x (compute dtype) of the direct backward pass."""
    gx = results.empty(plan.x_shape, plan.dtype)
    if gx.size == 0:
        return gx
    if plan.layout == "NHWC":
        gwin = _grad_x_window(plan)
        if gwin is not None:
            wz = _row_variants(plan, np.ascontiguousarray(weight[::-1, ::-1]))
            zero = np.zeros(plan.shapes.C, plan.dtype)
            return _run_depthwise(plan, grad_out, wz, zero, gx, gwin)
        wt = _transposed(plan, weight)

        args = ("grad_out", "weight", "grad_x", "win", "groups")
        args += ("buf1", "buf0", "clock", "trace")  # (acc, gt) = the buffers
        values = dict(grad_out=grad_out, weight=wt, grad_x=gx, win=plan.window)
        values.update(groups=plan.groups, **_local_buffers(plan))
        nbytes = gx.nbytes + grad_out.nbytes
        _run(plan, _kh.grad_x_groups, args, items(plan)[1], nbytes, _kh, values)
        return gx
    win, pl, groups = plan.window, plan.planes, plan.groups

    args = ("grad_out", "weight", "grad_x", "win", "planes", "groups")
    args += ("buf0", "buf1", "clock", "trace")
    values = dict(grad_out=grad_out, weight=weight, grad_x=gx, win=win, planes=pl)
    values.update(groups=groups, **_local_buffers(plan))
    nbytes = gx.nbytes + grad_out.nbytes
    _run(plan, _k.grad_x_nchw, args, items(plan)[1], nbytes, _k, values)
    return gx


def grad_w(plan, grad_out, x):
    """(grad_weight, grad_bias) (compute dtype) of the direct backward pass."""
    if plan.layout == "NHWC":
        return _grad_w_nhwc(plan, grad_out, x)
    gw = np.empty(plan.weight_shape, plan.dtype)
    gb = np.zeros(plan.shapes.F)  # float64
    if gw.size:
        win, pl, groups = plan.window, plan.planes, plan.groups
        gemm = blas.gemm(plan.dtype)
        ones = np.ones(pl.L, plan.dtype)

        args = ("grad_out", "x", "gw", "gb", "win", "planes", "groups")
        args += ("buf0", "buf1", "ones", "gemm", "clock", "trace")
        values = dict(grad_out=grad_out, x=x, gw=gw, gb=gb, win=win, planes=pl)
        values.update(groups=groups, ones=ones, gemm=gemm, **_local_buffers(plan))
        nbytes = x.nbytes + grad_out.nbytes
        _run(plan, _k.grad_w_nchw, args, items(plan)[2], nbytes, _k, values)
    elif gb.size:
        gb[:] = grad_out.sum(axis=(0, 2, 3), dtype=np.float64)
    return gw, gb.astype(plan.dtype)


def _forward_nhwc(plan, x, weight, bias, out, prepared=None):
    has_bias = bias is not None
    b = bias if has_bias else out.reshape(-1)[:1]
    win = plan.window
    wt = prepare(plan, weight) if prepared is None else prepared
    if _depthwise_3x3(plan):
        b = bias if has_bias else np.zeros(plan.shapes.C, plan.dtype)
        return _run_depthwise(plan, x, wt, b, out, win)
    values = dict(x=x, weight=wt, bias=b, has_bias=has_bias, out=out, win=win)
    args = ("x", "weight", "bias", "has_bias", "out", "win")
    if plan.groups > 1:
        kernel = _kh.forward_groups
        args += ("groups", "buf0", "buf1", "clock", "trace")
        values.update(groups=plan.groups, **_local_buffers(plan))
    else:
        kernel = _kh.forward_filters
        args += ("clock", "trace")
        values["weight"] = weight
    _run(plan, kernel, args, items(plan)[0], x.nbytes + out.nbytes, _kh, values)
    return out


def _grad_w_nhwc(plan, grad_out, x):
    s = plan.shapes
    if not s.F or not int(np.prod(plan.weight_shape)):  # no filters, or no channels
        gb = grad_out.sum(axis=(0, 1, 2), dtype=np.float64)
        return np.zeros(plan.weight_shape, plan.dtype), gb.astype(plan.dtype)
    S = _slots(plan)
    if _depthwise_3x3(plan):
        return _grad_w_depthwise(plan, grad_out, x, S)
    (parts,) = workspace.scratch(
        plan.dtype, (S, max(int(np.prod(plan.weight_shape)), 1)), key="slots"
    )
    (bias_parts,) = workspace.scratch(np.float64, (S, s.F), key="slot bias")
    win = plan.window
    values = dict(grad_out=grad_out, x=x, parts=parts, bias_parts=bias_parts, win=win)
    args = ("grad_out", "x", "parts", "bias_parts", "win")
    if plan.groups > 1:
        kernel = _kh.grad_w_groups
        args += ("groups", "buf0", "buf1", "clock", "trace")
        values.update(groups=plan.groups, **_local_buffers(plan))
    else:
        kernel = _kh.grad_w_filters
        args += ("clock", "trace")
    _run(plan, kernel, args, S, x.nbytes + grad_out.nbytes, _kh, values)
    flat = np.empty(parts.shape[1], plan.dtype)
    sums = threads.Task(
        _conv_kernels.sum_slots, ("parts", "out"), flat.size, parts.nbytes
    )
    threads.execute(sums, dict(parts=parts, out=flat))
    gb = np.empty(s.F)
    _conv_kernels.sum_slots((bias_parts, gb), 0, s.F)
    gw = np.empty(plan.weight_shape, plan.dtype)
    if plan.groups > 1:
        _kh.untranspose_weight(flat, plan.groups, gw)
    else:
        gw[...] = flat.reshape(plan.weight_shape)
    return gw, gb.astype(plan.dtype)


def _grad_w_depthwise(plan, grad_out, x, S):
    C = plan.shapes.C
    (parts,) = workspace.scratch(plan.dtype, (S, 12 * C), key="slots")
    (bias_parts,) = workspace.scratch(np.float64, (S, C), key="slot bias")
    fn = _kd.grad_w_3x3[plan.window.sw]

    args = ("grad_out", "x", "parts", "bias_parts", "win", "clock", "trace")
    values = dict(grad_out=grad_out, x=x, parts=parts, bias_parts=bias_parts)
    values["win"] = plan.window
    _run(plan, fn, args, S, x.nbytes + grad_out.nbytes, _kh, values)
    flat = np.empty(9 * C, plan.dtype)
    _conv_kernels.sum_slots((parts, flat), 0, 9 * C)
    gb = np.empty(C)
    _conv_kernels.sum_slots((bias_parts, gb), 0, C)
    return flat.reshape(plan.weight_shape), gb.astype(plan.dtype)


class Direct(Algorithm):
    """The sums computed directly: every NCHW layer; NHWC grouped or, two passes, not."""

    name = "direct"

    def implements(self, shapes):
        """Return every pass, but forward and grad_w for NHWC without groups.

        Along the filters, grad_x would be a reduction over them.
        """
        if shapes.layout == "NHWC" and shapes.groups == 1:
            return ("forward", "grad_w")
        return PASSES

    def items(self, plan, pass_):
        """Return the work items of one pass (:func:`items`)."""
        return items(plan)[PASSES.index(pass_)]

    def describe(self, plan, pass_):
        """Describe one pass's items (and, NHWC, the kernel that runs them)."""
        if plan.layout == "NHWC":
            n, what = self.items(plan, pass_), describe_nhwc(plan, pass_)
            return f"{self.name}, {n} items ({what})"
        fwd, gx, gw = items(plan)
        what = {
            "forward": f"{fwd} items (sample x group x block of filters)",
            "grad_x": f"{gx} items (sample x group)",
            "grad_w": f"{gw} items (one filter over the batch, dots by BLAS)",
        }[pass_]
        return f"{self.name}, {what}"

    def workspace(self, plan, passes):
        """Return the per-thread scratch of the direct kernels (:func:`scratch_elems`)."""
        return sum(scratch_elems(plan)), 0, 0

    def prepare(self, plan, weight):
        """Return the forward pass's weight as its kernels read it (:func:`prepare`)."""
        return prepare(plan, weight)

    def forward(self, plan, x, weight, bias, prepared=None):
        """Run the direct forward pass (:func:`forward`)."""
        return forward(plan, x, weight, bias, prepared)

    def grad_x(self, plan, grad_out, weight, fill=None):
        """Run the direct grad_x pass (:func:`grad_x`), then add `fill`."""
        return self.add_fill(plan, grad_x(plan, grad_out, weight), fill)

    def grad_w(self, plan, grad_out, x, weight):
        """Run the direct grad_weight pass (:func:`grad_w`)."""
        return tuple(grad_w(plan, grad_out, x))


#: the registered instance
ENTRY = Direct()
