"""3-D convolution, forward and backward: the 2-D engine, one depth tap at a time.

``out[:, :, od] = sum over kd of conv2d(x[:, :, od*sd - pd + kd*dd], w[:, :, kd])``:
for each depth tap kd, the input slices every output depth reads through
it are stacked into one batch of N*OD' planes (a gather copy) and
convolved by the 2-D engine with that tap's (KH, KW) weights, its plans
and algorithms included; the taps' results are added in tap order, so the
result is the same whatever the thread count. Arguments follow
``torch.nn.functional.conv3d``; layouts "NCDHW" (weight (F, C/groups, KD,
KH, KW)) and "NDHWC" (weight (KD, KH, KW, C/groups, F)).
"""

import numpy as np

from . import conv
from ._engine.args import as_real_array, dtype_rule
from ._engine.geometry import as_triple, check_layout, resolve_padding_3d

__all__ = ["conv3d", "conv3d_backward"]

#: 3-D layout -> the 2-D layout of its depth slices
LAYOUTS = {"NCDHW": "NCHW", "NDHWC": "NHWC"}


def _layout(layout):
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"layout must be 'NCDHW' or 'NDHWC', got {layout!r}")
    return check_layout(LAYOUTS[layout])


def _geometry(x, weight, stride, padding, dilation, layout2):
    """Return the checked sizes, and each depth tap with the output depths it feeds."""
    if layout2 == "NCHW":
        N, C, D, H, W = x.shape
        KD, KH, KW = weight.shape[2:]
    else:
        N, D, H, W, C = x.shape
        KD, KH, KW = weight.shape[:3]
    s = as_triple(stride, "stride")
    d = as_triple(dilation, "dilation")
    if min(s) < 1 or min(d) < 1:
        raise ValueError(f"stride and dilation must be >= 1, got {s} and {d}")
    if min(KD, KH, KW) < 1:
        raise ValueError(f"weight must have kernel size >= 1, got shape {weight.shape}")
    pads = resolve_padding_3d(padding, (D, H, W), (KD, KH, KW), s, d)
    OD = (D + pads[0] + pads[1] - d[0] * (KD - 1) - 1) // s[0] + 1
    if OD < 1:
        raise ValueError(
            f"the kernel's depth {KD} (dilation {d[0]}) exceeds the padded input "
            f"depth {D + pads[0] + pads[1]}"
        )
    taps = []  # (kd, output depths, input depths)
    od = np.arange(OD)
    for kd in range(KD):
        z = od * s[0] - pads[0] + kd * d[0]
        ok = (z >= 0) & (z < D)
        if ok.any():
            taps.append((kd, od[ok], z[ok]))
    return dict(
        N=N, C=C, D=D, OD=OD, stride2=s[1:], dilation2=d[1:], pads2=pads[2:], taps=taps
    )


def _slices(a, depths, layout2):
    """Return a[:, :, depths] (NDHWC: a[:, depths]) as a batch of planes (a copy)."""
    if layout2 == "NCHW":
        s = np.moveaxis(a[:, :, depths], 2, 1)  # (N, n, C, H, W)
    else:
        s = a[:, depths]  # (N, n, H, W, C)
    return np.ascontiguousarray(s).reshape((s.shape[0] * s.shape[1],) + s.shape[2:])


def _unslice(planes, N, n, layout2):
    """(N*n, ...) planes back to (N, C, n, H, W) or (N, n, H, W, C)."""
    s = planes.reshape((N, n) + planes.shape[1:])
    return np.moveaxis(s, 1, 2) if layout2 == "NCHW" else s


def _tap(weight, kd, layout2):
    return weight[:, :, kd] if layout2 == "NCHW" else weight[kd]


def conv3d(
    x,
    weight,
    bias=None,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    layout="NCDHW",
    algorithm="auto",
):
    """3-D convolution (cross-correlation), as ``torch.nn.functional.conv3d``.

    Parameters
    ----------
    x : array_like of shape (N, C, D, H, W), or (N, D, H, W, C) for "NDHWC"
    weight : array_like of shape (F, C/groups, KD, KH, KW), or (KD, KH, KW,
        C/groups, F) for "NDHWC"
    bias : array_like of shape (F,), optional
    stride, dilation : int, 1-tuple or (int, int, int)
    padding : int, 1-tuple, (int, int, int), "valid" or "same"
    groups : int
    layout : {"NCDHW", "NDHWC"}
    algorithm : str
        As for :func:`fastconv.conv2d`, for each depth tap's 2-D convolution.

    Returns
    -------
    out : ndarray of shape (N, F, OD, OH, OW), or (N, OD, OH, OW, F)
        Sizes per axis as for :func:`fastconv.conv2d`.

    Examples
    --------
    >>> import numpy as np, fastconv
    >>> fastconv.conv3d(np.ones((1, 1, 3, 3, 3)), np.ones((1, 1, 2, 2, 2))).ravel()
    array([8., 8., 8., 8., 8., 8., 8., 8.])
    """
    layout2 = _layout(layout)
    x = as_real_array(x, "x", ndim=5)
    weight = as_real_array(weight, "weight", ndim=5)
    g = _geometry(x, weight, stride, padding, dilation, layout2)
    kinds = [x.dtype, weight.dtype] + (
        [np.asarray(bias).dtype] if bias is not None else []
    )
    dtype = dtype_rule(np.result_type(*kinds))[0]
    out = None
    for kd, od, z in g["taps"]:
        y = conv.conv2d(
            _slices(x, z, layout2),
            _tap(weight, kd, layout2),
            None,
            g["stride2"],
            g["pads2"],
            g["dilation2"],
            groups,
            layout=layout2,
            algorithm=algorithm,
        )
        y = _unslice(y, g["N"], len(od), layout2)
        if out is None:  # the shape from the first tap's 2-D output
            shape = list(y.shape)
            shape[2 if layout2 == "NCHW" else 1] = g["OD"]
            out = np.zeros(shape, dtype)
        if layout2 == "NCHW":
            out[:, :, od] += y
        else:
            out[:, od] += y
    if bias is not None:
        b = as_real_array(bias, "bias", ndim=1).astype(dtype)
        if b.shape != (weight.shape[0] if layout2 == "NCHW" else weight.shape[-1],):
            raise ValueError(f"bias must have shape (F,), got shape {b.shape}")
        out += b[:, None, None, None] if layout2 == "NCHW" else b
    return out.astype(dtype_rule(np.result_type(*kinds))[1], copy=False)


def conv3d_backward(
    grad_out,
    x,
    weight,
    stride=1,
    padding=0,
    dilation=1,
    groups=1,
    *,
    layout="NCDHW",
    algorithm="auto",
):
    """Gradients of :func:`conv3d` with respect to x, weight and bias.

    Parameters
    ----------
    grad_out : array_like of shape (N, F, OD, OH, OW), or (N, OD, OH, OW, F)
    x, weight, stride, padding, dilation, groups, layout, algorithm
        As given to :func:`conv3d`.

    Returns
    -------
    grad_x : ndarray, shape of x
    grad_weight : ndarray, shape of weight
    grad_bias : ndarray of shape (F,)
        Each depth tap's 2-D backward; grad_x and grad_weight added tap by
        tap, in order.
    """
    layout2 = _layout(layout)
    x = as_real_array(x, "x", ndim=5)
    weight = as_real_array(weight, "weight", ndim=5)
    grad_out = as_real_array(grad_out, "grad_out", ndim=5)
    g = _geometry(x, weight, stride, padding, dilation, layout2)
    dtypes = dtype_rule(np.result_type(x.dtype, weight.dtype, grad_out.dtype))
    depth_axis = 2 if layout2 == "NCHW" else 1
    if grad_out.shape[depth_axis] != g["OD"] or grad_out.shape[0] != g["N"]:
        raise ValueError(
            f"grad_out's batch and depth must be x's {g['N']} and the output's "
            f"{g['OD']}, got shape {grad_out.shape}"
        )
    grad_x = np.zeros(x.shape, dtypes[0])
    grad_w = np.zeros(weight.shape, dtypes[0])
    for kd, od, z in g["taps"]:
        gx, gw, _ = conv.conv2d_backward(
            _slices(grad_out, od, layout2),
            _slices(x, z, layout2),
            _tap(weight, kd, layout2),
            g["stride2"],
            g["pads2"],
            g["dilation2"],
            groups,
            layout=layout2,
            algorithm=algorithm,
        )
        gx = _unslice(gx, g["N"], len(z), layout2)
        if layout2 == "NCHW":
            grad_x[:, :, z] += gx  # z holds no depth twice: one tap, distinct od
            grad_w[:, :, kd] = gw
        else:
            grad_x[:, z] += gx
            grad_w[kd] = gw
    axes = tuple(a for a in range(5) if a != (1 if layout2 == "NCHW" else 4))
    grad_b = grad_out.sum(axis=axes, dtype=np.float64).astype(dtypes[0])
    return tuple(a.astype(dtypes[1], copy=False) for a in (grad_x, grad_w, grad_b))
