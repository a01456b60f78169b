"""fastconv.compat.dlai against the DeepLearning.AI notebook and the oracle.

First the notebook's published expected outputs, for its np.random.seed(1)
examples, to the printed digits; three versions of the notebook exist and
all three are reproduced. Then a case table where loop solutions break,
against fastconv.naive; then the argument checks, one test per error.

The course's arrays are drawn with ``np.random.RandomState(seed)``: the same
Mersenne Twister stream, and the same numbers, as the notebook's
``np.random.seed(seed)`` followed by ``np.random.randn``, without touching
numpy's global state.
"""

import numpy as np
import pytest

from fastconv import naive
from fastconv.compat import dlai
from fastconv.compat.dlai import (
    conv_backward,
    conv_forward,
    conv_single_step,
    create_mask_from_window,
    distribute_value,
    pool_backward,
    pool_forward,
    zero_pad,
)
from tests.helpers import DTYPES, assert_close, randn, rng


def assert_printed(actual, printed, decimals):
    """`actual` prints as `printed`, which has `decimals` digits after the point."""
    np.testing.assert_allclose(
        actual, printed, rtol=0, atol=0.5 * 10.0**-decimals + 1e-13
    )


def assert_printed_sci(actual, printed, digits):
    """Like assert_printed, for "%.{digits}e" printing (one half-unit per element)."""
    printed = np.asarray(printed)
    unit = 10.0 ** (np.floor(np.log10(np.abs(printed))) - digits)
    assert np.all(np.abs(np.asarray(actual) - printed) <= 0.5 * unit + 1e-15), (
        actual,
        printed,
    )


def assert_repr(actual, printed):
    """Compare a float the notebook printed in full (repr), up to summation order.

    The notebook sums sequentially; its printed mean(db) of the 2021 example
    is itself 1.1e-14 (relative) away from the exactly rounded sum
    (math.fsum), so summation order alone moves values by that much.
    """
    np.testing.assert_allclose(actual, printed, rtol=5e-14, atol=0)


def course_conv(shape_A, shape_W, seed=1):
    rs = np.random.RandomState(seed)
    A_prev = rs.randn(*shape_A)
    W = rs.randn(*shape_W)
    b = rs.randn(1, 1, 1, shape_W[3])
    return rs, A_prev, W, b


# --------------------------------------------------------------------------
# 2021 notebook: Convolution_model_Step_by_Step_v1.ipynb (with public_tests.py).
# Source: the notebook's test-cell outputs and asserts, as in the public copy
# github.com/Param31Grover/Convolution_model_Step_by_Step_v1, and the course's
# public_tests.py (zero_pad_test, conv_single_step_test, conv_forward_test_1/2,
# pool_forward_test) as found in public copies of it.


def test_2021_zero_pad():
    # x.shape = (4, 3, 3, 2), x_pad.shape = (4, 9, 9, 2); x[1,1] as printed
    x = np.random.RandomState(1).randn(4, 3, 3, 2)
    x_pad = zero_pad(x, 3)
    assert x_pad.shape == (4, 9, 9, 2)
    assert_printed(
        x[1, 1],
        [
            [0.90085595, -0.68372786],
            [-0.12289023, -0.93576943],
            [-0.26788808, 0.53035547],
        ],
        8,
    )
    np.testing.assert_array_equal(x_pad[1, 1], np.zeros((9, 2)))
    # public test: rows and columns of zeros, the original inside
    np.testing.assert_array_equal(x_pad[0, 0:2, :, 0], np.zeros((2, 9)))
    np.testing.assert_array_equal(x_pad[0, :, 7:9, 1].T, np.zeros((2, 9)))
    np.testing.assert_array_equal(x_pad[:, 3:6, 3:6, :], x)
    # public test 2: np.random.seed(1), (5, 4, 4, 3), pad 2
    x = np.random.RandomState(1).randn(5, 4, 4, 3)
    x_pad = zero_pad(x, 2)
    assert x_pad.shape == (5, 8, 8, 3)
    np.testing.assert_array_equal(x_pad[:, 2:6, 2:6, :], x)


def test_2021_conv_single_step():
    # "Z = -6.999089450680221"; the notebook asserts type(Z) == np.float64
    rs = np.random.RandomState(1)
    a_slice_prev, W, b = rs.randn(4, 4, 3), rs.randn(4, 4, 3), rs.randn(1, 1, 1)
    Z = conv_single_step(a_slice_prev, W, b)
    assert type(Z) is np.float64
    assert_repr(Z, -6.999089450680221)
    # public test: np.random.seed(3), (5, 5, 3): expected -3.5443670581382474
    rs = np.random.RandomState(3)
    Z = conv_single_step(rs.randn(5, 5, 3), rs.randn(5, 5, 3), rs.randn(1, 1, 1))
    assert_repr(Z, -3.5443670581382474)


def test_2021_conv_forward():
    _, A_prev, W, b = course_conv((2, 5, 7, 4), (3, 3, 4, 8))
    Z, cache_conv = conv_forward(A_prev, W, b, {"pad": 1, "stride": 2})
    assert Z.shape == (2, 3, 4, 8)
    assert_repr(np.mean(Z), 0.5511276474566768)
    assert_printed(
        Z[0, 2, 1],
        [
            -2.17796037,
            8.07171329,
            -0.5772704,
            3.36286738,
            4.48113645,
            -2.89198428,
            10.99288867,
            3.03171932,
        ],
        8,
    )
    assert_printed(
        cache_conv[0][1][2][3], [-1.1191154, 1.9560789, -0.3264995, -1.34267579], 8
    )


def test_2021_conv_forward_public_test_2():
    # conv_forward_test_2: np.random.seed(3); three geometries on one stream
    rs, A_prev, W, b = course_conv((2, 5, 7, 4), (3, 3, 4, 8), seed=3)
    Z, _ = conv_forward(A_prev, W, b, {"pad": 3, "stride": 1})
    assert Z.shape == (2, 9, 11, 8)
    Z, _ = conv_forward(A_prev, W, b, {"pad": 0, "stride": 2})
    assert Z.shape == (2, 2, 3, 8)
    W, b = rs.randn(5, 5, 4, 8), rs.randn(1, 1, 1, 8)
    Z, cache_conv = conv_forward(A_prev, W, b, {"pad": 6, "stride": 1})  # pad > f
    assert Z.shape == (2, 13, 15, 8)
    assert_repr(np.mean(Z), -0.5384027772160062)
    # the public test's expected_conv, which is cache_conv[0][1, 2] (A_prev itself)
    expected_conv = [
        [1.98848968, 1.19505834, -0.0952376, -0.52718778],
        [-0.32158469, 0.15113037, -0.01862772, 0.48352879],
        [0.76896516, 1.36624284, 1.14726479, -0.11022916],
        [0.38825041, -0.38712718, -0.58722031, 1.91082685],
        [-0.45984615, 1.99073781, -0.34903539, 0.25282509],
        [1.08940955, 0.02392202, 0.39312528, -0.2413848],
        [-0.47552486, -0.16577702, -0.64971742, 1.63138295],
    ]
    assert_printed(cache_conv[0][1, 2], expected_conv, 8)


def test_2021_pool_forward():
    A_prev = np.random.RandomState(1).randn(2, 5, 5, 3)
    # CASE 1: stride 1, f 3
    A, _ = pool_forward(A_prev, {"stride": 1, "f": 3}, mode="max")
    assert A.shape == (2, 3, 3, 3)
    assert_printed(
        A[1, 1],
        [
            [1.96710175, 0.84616065, 1.27375593],
            [1.96710175, 0.84616065, 1.23616403],
            [1.62765075, 1.12141771, 1.2245077],
        ],
        8,
    )
    A, _ = pool_forward(A_prev, {"stride": 1, "f": 3}, mode="average")
    assert_printed(
        A[1, 1],
        [
            [0.44497696, -0.00261695, -0.31040307],
            [0.50811474, -0.23493734, -0.23961183],
            [0.11872677, 0.17255229, -0.22112197],
        ],
        8,
    )
    # CASE 2: stride 2, f 3
    A, _ = pool_forward(A_prev, {"stride": 2, "f": 3}, mode="max")
    assert A.shape == (2, 2, 2, 3)
    assert_printed(
        A[0],
        [
            [[1.74481176, 0.90159072, 1.65980218], [1.74481176, 1.6924546, 1.65980218]],
            [[1.13162939, 1.51981682, 2.18557541], [1.13162939, 1.6924546, 2.18557541]],
        ],
        8,
    )
    A, _ = pool_forward(A_prev, {"stride": 2, "f": 3}, mode="average")
    assert_printed(
        A[1],
        [
            [
                [-0.17313416, 0.32377198, -0.34317572],
                [0.02030094, 0.14141479, -0.01231585],
            ],
            [[0.42944926, 0.08446996, -0.27290905], [0.15077452, 0.28911175, 0.00123239]],
        ],
        8,
    )


def test_2021_pool_forward_public_test():
    # pool_forward_test: tests 1-2 draw unseeded, so only their shapes are fixed
    g = rng(0)
    A, _ = pool_forward(randn(g, (2, 5, 7, 3)), {"stride": 2, "f": 2}, mode="average")
    assert A.shape == (2, 2, 3, 3)
    A, _ = pool_forward(randn(g, (4, 5, 7, 4)), {"stride": 1, "f": 5}, mode="max")
    assert A.shape == (4, 1, 3, 4)
    # test 3: np.random.seed(1), stride 1, f 2
    A_prev = np.random.RandomState(1).randn(2, 5, 5, 3)
    A, cache = pool_forward(A_prev, {"stride": 1, "f": 2}, mode="max")
    assert_printed(
        A[1, 1],
        [
            [1.19891788, 0.74055645, 0.07734007],
            [0.31515939, 0.84616065, 0.07734007],
            [0.69803203, 0.84616065, 1.2245077],
            [0.69803203, 1.12141771, 1.2245077],
        ],
        8,
    )
    assert cache[0] is A_prev
    A, _ = pool_forward(A_prev, {"stride": 1, "f": 2}, mode="average")
    assert_printed(
        A[1, 1],
        [
            [0.11583785, 0.34545544, -0.6561907],
            [-0.2334108, 0.3364666, -0.69382351],
            [0.25497093, -0.21741362, -0.07342615],
            [-0.04092568, -0.01110394, 0.12495022],
        ],
        8,
    )


def test_2021_conv_backward():
    # the notebook asserts np.isclose(np.mean(dA), 1.4524377) etc.; printed:
    _, A_prev, W, b = course_conv((10, 4, 4, 3), (2, 2, 3, 8))
    Z, cache_conv = conv_forward(A_prev, W, b, {"pad": 2, "stride": 2})
    dA, dW, db = conv_backward(Z, cache_conv)
    assert (dA.shape, dW.shape, db.shape) == ((10, 4, 4, 3), (2, 2, 3, 8), (1, 1, 1, 8))
    assert_repr(np.mean(dA), 1.4524377775388075)
    assert_repr(np.mean(dW), 1.7269914583139097)
    assert_repr(np.mean(db), 7.839232564616838)


def test_2021_create_mask_and_distribute_value():
    x = np.random.RandomState(1).randn(2, 3)
    np.testing.assert_array_equal(
        create_mask_from_window(x), [[True, False, False], [False, False, False]]
    )
    x = np.array([[-1, 2, 3], [2, -3, 2], [1, 5, -2]])
    mask = create_mask_from_window(x)
    assert type(mask) is np.ndarray and mask.shape == x.shape
    np.testing.assert_array_equal(
        mask, [[False, False, False], [False, False, False], [False, True, False]]
    )
    a = distribute_value(2, (2, 2))
    assert type(a) is np.ndarray and a.shape == (2, 2) and np.sum(a) == 2
    np.testing.assert_array_equal(a, [[0.5, 0.5], [0.5, 0.5]])
    a = distribute_value(100, (10, 10))
    assert a.shape == (10, 10) and np.sum(a) == 100


def test_2021_pool_backward():
    rs = np.random.RandomState(1)
    A_prev = rs.randn(5, 5, 3, 2)
    A, cache = pool_forward(A_prev, {"stride": 1, "f": 2})
    assert A.shape == (5, 4, 2, 2)
    dA = rs.randn(5, 4, 2, 2)  # drawn after A_prev, as in the cell
    assert_repr(np.mean(dA), 0.14571390272918056)
    dA_prev1 = pool_backward(dA, cache, mode="max")
    assert dA_prev1.shape == (5, 5, 3, 2)
    assert_printed(dA_prev1[1, 1], [[0.0, 0.0], [5.05844394, -1.68282702], [0.0, 0.0]], 8)
    dA_prev2 = pool_backward(dA, cache, mode="average")
    assert_printed(
        dA_prev2[1, 1],
        [[0.08485462, 0.2787552], [1.26461098, -0.25749373], [1.17975636, -0.53624893]],
        8,
    )


# --------------------------------------------------------------------------
# 2019 notebook: Convolution_model_Step_by_Step_v2a.ipynb. Source: its
# "Expected Output" cells, as in the public copy
# github.com/AbebeT/Convolution_model_Step_by_Step_v2a. Scalars were printed
# by Python 2 with 12 significant digits.


def test_2019_zero_pad_and_conv_single_step():
    x = np.random.RandomState(1).randn(4, 3, 3, 2)
    x_pad = zero_pad(x, 2)
    assert x_pad.shape == (4, 7, 7, 2)
    np.testing.assert_array_equal(x_pad[1, 1], np.zeros((7, 2)))
    rs = np.random.RandomState(1)
    Z = conv_single_step(rs.randn(4, 4, 3), rs.randn(4, 4, 3), rs.randn(1, 1, 1))
    assert_printed(Z, -6.99908945068, 11)


def test_2019_conv_forward():
    _, A_prev, W, b = course_conv((10, 5, 7, 4), (3, 3, 4, 8))
    Z, cache_conv = conv_forward(A_prev, W, b, {"pad": 1, "stride": 2})
    assert_printed(np.mean(Z), 0.692360880758, 12)
    assert_printed(
        Z[3, 2, 1],
        [
            -1.28912231,
            2.27650251,
            6.61941931,
            0.95527176,
            8.25132576,
            2.31329639,
            13.00689405,
            2.34576051,
        ],
        8,
    )
    assert_printed(
        cache_conv[0][1][2][3], [-1.1191154, 1.9560789, -0.3264995, -1.34267579], 8
    )


def test_2019_pool_forward_case_1_stride_1():
    A_prev = np.random.RandomState(1).randn(2, 5, 5, 3)
    A, _ = pool_forward(A_prev, {"stride": 1, "f": 3})
    assert A.shape == (2, 3, 3, 3)
    assert_printed(
        A,
        [
            [
                [
                    [1.74481176, 0.90159072, 1.65980218],
                    [1.74481176, 1.46210794, 1.65980218],
                    [1.74481176, 1.6924546, 1.65980218],
                ],
                [
                    [1.14472371, 0.90159072, 2.10025514],
                    [1.14472371, 0.90159072, 1.65980218],
                    [1.14472371, 1.6924546, 1.65980218],
                ],
                [
                    [1.13162939, 1.51981682, 2.18557541],
                    [1.13162939, 1.51981682, 2.18557541],
                    [1.13162939, 1.6924546, 2.18557541],
                ],
            ],
            [
                [
                    [1.19891788, 0.84616065, 0.82797464],
                    [0.69803203, 0.84616065, 1.2245077],
                    [0.69803203, 1.12141771, 1.2245077],
                ],
                [
                    [1.96710175, 0.84616065, 1.27375593],
                    [1.96710175, 0.84616065, 1.23616403],
                    [1.62765075, 1.12141771, 1.2245077],
                ],
                [
                    [1.96710175, 0.86888616, 1.27375593],
                    [1.96710175, 0.86888616, 1.23616403],
                    [1.62765075, 1.12141771, 0.79280687],
                ],
            ],
        ],
        8,
    )
    A, _ = pool_forward(A_prev, {"stride": 1, "f": 3}, mode="average")
    # printed in e-notation, 8 digits after the mantissa's point
    assert_printed_sci(
        A,
        [
            [
                [
                    [-3.01046719e-02, -3.24021315e-03, -3.36298859e-01],
                    [1.43310483e-01, 1.93146751e-01, -4.44905196e-01],
                    [1.28934436e-01, 2.22428468e-01, 1.25067597e-01],
                ],
                [
                    [-3.81801899e-01, 1.59993515e-02, 1.70562706e-01],
                    [4.73707165e-02, 2.59244658e-02, 9.20338402e-02],
                    [3.97048605e-02, 1.57189094e-01, 3.45302489e-01],
                ],
                [
                    [-3.82680519e-01, 2.32579951e-01, 6.25997903e-01],
                    [-2.47157416e-01, -3.48524998e-04, 3.50539717e-01],
                    [-9.52551510e-02, 2.68511000e-01, 4.66056368e-01],
                ],
            ],
            [
                [
                    [-1.73134159e-01, 3.23771981e-01, -3.43175716e-01],
                    [3.80634669e-02, 7.26706274e-02, -2.30268958e-01],
                    [2.03009393e-02, 1.41414785e-01, -1.23158476e-02],
                ],
                [
                    [4.44976963e-01, -2.61694592e-03, -3.10403073e-01],
                    [5.08114737e-01, -2.34937338e-01, -2.39611830e-01],
                    [1.18726772e-01, 1.72552294e-01, -2.21121966e-01],
                ],
                [
                    [4.29449255e-01, 8.44699612e-02, -2.72909051e-01],
                    [6.76351685e-01, -1.20138225e-01, -2.44076712e-01],
                    [1.50774518e-01, 2.89111751e-01, 1.23238536e-03],
                ],
            ],
        ],
        8,
    )


def test_2019_pool_forward_case_2_stride_2():
    A_prev = np.random.RandomState(1).randn(2, 5, 5, 3)
    A, _ = pool_forward(A_prev, {"stride": 2, "f": 3})
    assert_printed(
        A,
        [
            [
                [
                    [1.74481176, 0.90159072, 1.65980218],
                    [1.74481176, 1.6924546, 1.65980218],
                ],
                [
                    [1.13162939, 1.51981682, 2.18557541],
                    [1.13162939, 1.6924546, 2.18557541],
                ],
            ],
            [
                [
                    [1.19891788, 0.84616065, 0.82797464],
                    [0.69803203, 1.12141771, 1.2245077],
                ],
                [
                    [1.96710175, 0.86888616, 1.27375593],
                    [1.62765075, 1.12141771, 0.79280687],
                ],
            ],
        ],
        8,
    )
    A, _ = pool_forward(A_prev, {"stride": 2, "f": 3}, mode="average")
    assert_printed(
        A,
        [
            [
                [
                    [-0.03010467, -0.00324021, -0.33629886],
                    [0.12893444, 0.22242847, 0.1250676],
                ],
                [
                    [-0.38268052, 0.23257995, 0.6259979],
                    [-0.09525515, 0.268511, 0.46605637],
                ],
            ],
            [
                [
                    [-0.17313416, 0.32377198, -0.34317572],
                    [0.02030094, 0.14141479, -0.01231585],
                ],
                [
                    [0.42944926, 0.08446996, -0.27290905],
                    [0.15077452, 0.28911175, 0.00123239],
                ],
            ],
        ],
        8,
    )


def test_2019_conv_backward_and_pool_backward():
    _, A_prev, W, b = course_conv((10, 4, 4, 3), (2, 2, 3, 8))
    Z, cache_conv = conv_forward(A_prev, W, b, {"pad": 2, "stride": 2})
    dA, dW, db = conv_backward(Z, cache_conv)
    assert_printed(np.mean(dA), 1.45243777754, 11)
    assert_printed(np.mean(dW), 1.72699145831, 11)
    assert_printed(np.mean(db), 7.83923256462, 11)
    rs = np.random.RandomState(1)
    A_prev = rs.randn(5, 5, 3, 2)
    A, cache = pool_forward(A_prev, {"stride": 1, "f": 2})
    dA = rs.randn(5, 4, 2, 2)
    assert_printed(np.mean(dA), 0.145713902729, 12)
    assert_printed(
        pool_backward(dA, cache, mode="max")[1, 1],
        [[0.0, 0.0], [5.05844394, -1.68282702], [0.0, 0.0]],
        8,
    )
    assert_printed(
        pool_backward(dA, cache, mode="average")[1, 1],
        [[0.08485462, 0.2787552], [1.26461098, -0.25749373], [1.17975636, -0.53624893]],
        8,
    )


# --------------------------------------------------------------------------
# 2017 notebook ("Convolution model - Step by Step - v1/v2"), whose examples
# differ. Source: its "Expected Output" tables as reproduced in public copies
# of the notebook (a rendered copy of the notebook on a blog, and solution
# files quoting the "Expected output").


def test_2017_conv_forward():
    _, A_prev, W, b = course_conv((10, 4, 4, 3), (2, 2, 3, 8))
    Z, cache_conv = conv_forward(A_prev, W, b, {"pad": 2, "stride": 2})
    assert_printed(np.mean(Z), 0.0489952035289, 13)
    assert_printed(
        Z[3, 2, 1],
        [
            -0.61490741,
            -6.7439236,
            -2.55153897,
            1.75698377,
            3.56208902,
            0.53036437,
            5.18531798,
            8.75898442,
        ],
        8,
    )
    assert_printed(cache_conv[0][1][2][3], [-0.20075807, 0.18656139, 0.41005165], 8)


def test_2017_pool_forward():
    A_prev = np.random.RandomState(1).randn(2, 4, 4, 3)
    A, _ = pool_forward(A_prev, {"stride": 2, "f": 3})  # one window; row/col 3 dropped
    assert_printed(
        A,
        [
            [[[1.74481176, 0.86540763, 1.13376944]]],
            [[[1.13162939, 1.51981682, 2.18557541]]],
        ],
        8,
    )
    A, _ = pool_forward(A_prev, {"stride": 2, "f": 3}, mode="average")
    assert_printed(
        A,
        [
            [[[0.02105773, -0.20328806, -0.40389855]]],
            [[[-0.22154621, 0.51716526, 0.48155844]]],
        ],
        8,
    )


# --------------------------------------------------------------------------
# where loop solutions break: against the oracle, in both dtypes


# (id, (m, n_H_prev, n_W_prev, n_C_prev), f, n_C, stride, pad): why it is here
CONV_CASES = [
    ("pad-0", (2, 4, 5, 3), 3, 2, 1, 0),  # X[pad:-pad] is empty when pad = 0
    ("stride-2", (2, 7, 7, 3), 3, 4, 2, 1),  # the course's own geometry
    ("not-tiling", (2, 8, 7, 2), 3, 3, 3, 1),  # stride 3 leaves rows over
    ("stride>f", (2, 7, 7, 2), 2, 2, 3, 0),  # skipped pixels
    ("non-square-input", (1, 4, 9, 2), 2, 3, 1, 1),  # swapped loop bounds show
    ("pad>f", (1, 3, 3, 2), 2, 2, 1, 3),  # the output outgrows the input
    ("1x1", (2, 3, 4, 5), 1, 2, 1, 0),
    ("empty-batch", (0, 4, 4, 2), 3, 2, 1, 1),  # m = 0
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_matches_oracle(case, dtype):
    _, shape, f, n_C, stride, pad = case
    g = rng(1)
    A_prev = randn(g, shape, dtype)
    W = randn(g, (f, f, shape[3], n_C), dtype)
    b = randn(g, (1, 1, 1, n_C), dtype)
    hp = {"stride": stride, "pad": pad}
    Z, cache = conv_forward(A_prev, W, b, hp)
    kw = dict(stride=stride, padding=pad, layout="NHWC")
    assert_close(Z, naive.conv2d(A_prev, W, b.reshape(-1), **kw))
    assert cache[0] is A_prev and cache[1] is W and cache[2] is b and cache[3] is hp
    dZ = randn(g, Z.shape, dtype)
    dA_prev, dW, db = conv_backward(dZ, cache)
    want = naive.conv2d_backward(dZ, A_prev, W, **kw)
    assert_close(dA_prev, want[0])
    assert_close(dW, want[1])
    assert_close(db, want[2].reshape(1, 1, 1, n_C))


# (id, (m, n_H_prev, n_W_prev, n_C_prev), f, stride): why it is here
POOL_CASES = [
    ("overlapping", (2, 5, 5, 3), 3, 1),  # = instead of += shows here
    ("overlapping-stride-2", (2, 5, 5, 3), 3, 2),
    ("tiling", (2, 4, 6, 2), 2, 2),
    ("not-tiling", (2, 5, 7, 2), 2, 2),  # last row and column dropped
    ("stride>f", (1, 7, 7, 2), 2, 3),
    ("f=input", (2, 3, 3, 1), 3, 1),  # a single window
]


@pytest.mark.parametrize("mode", dlai.MODES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_pool_matches_oracle(case, dtype, mode):
    _, shape, f, stride = case
    g = rng(2)
    A_prev = randn(g, shape, dtype)
    hp = {"f": f, "stride": stride}
    A, cache = pool_forward(A_prev, hp, mode=mode)
    assert cache[0] is A_prev and cache[1] is hp
    fwd = naive.max_pool2d if mode == "max" else naive.avg_pool2d
    bwd = naive.max_pool2d_backward if mode == "max" else naive.avg_pool2d_backward
    assert_close(A, fwd(A_prev, f, stride, layout="NHWC"))
    dA = randn(g, A.shape, dtype)
    assert_close(
        pool_backward(dA, cache, mode=mode), bwd(dA, A_prev, f, stride, layout="NHWC")
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_helpers_keep_the_dtype(dtype):
    g = rng(3)
    X = randn(g, (1, 2, 3, 1), dtype)
    assert zero_pad(X, 0).dtype == dtype
    np.testing.assert_array_equal(zero_pad(X, 0), X)
    Z = conv_single_step(
        randn(g, (2, 2, 1), dtype), randn(g, (2, 2, 1), dtype), np.ones((1, 1, 1), dtype)
    )
    assert type(Z) is np.dtype(dtype).type
    assert distribute_value(np.dtype(dtype).type(3), (1, 2)).dtype == dtype


def test_ties_mask_every_maximum_but_pool_backward_picks_the_first():
    x = np.array([[2.0, 1.0], [2.0, 0.0]])
    np.testing.assert_array_equal(
        create_mask_from_window(x), [[True, False], [True, False]]
    )
    A, cache = pool_forward(x.reshape(1, 2, 2, 1), {"f": 2, "stride": 2})
    dA_prev = pool_backward(np.ones_like(A), cache)
    np.testing.assert_array_equal(dA_prev[0, :, :, 0], [[1.0, 0.0], [0.0, 0.0]])


def test_inputs_are_not_modified():
    g = rng(4)
    A_prev, W, b = randn(g, (2, 5, 5, 3)), randn(g, (3, 3, 3, 2)), randn(g, (1, 1, 1, 2))
    arrays = [A_prev, W, b]
    for a in arrays:
        a.flags.writeable = False  # a write would raise
    Z, cache = conv_forward(A_prev, W, b, {"stride": 1, "pad": 1})
    conv_backward(Z, cache)
    A, cache = pool_forward(A_prev, {"f": 2, "stride": 1})
    pool_backward(A, cache, mode="average")
    zero_pad(A_prev, 1)


# --------------------------------------------------------------------------
# argument checks: one test per error, each naming the argument and value

A4 = np.zeros((1, 4, 4, 2))
W4 = np.zeros((3, 3, 2, 5))
B4 = np.zeros((1, 1, 1, 5))
HP = {"stride": 1, "pad": 0}


@pytest.mark.parametrize(
    "hp, exc, match",
    [
        (
            {"pad": 1},
            ValueError,
            r'hparameters must have a "stride" key, got keys \[\'pad\'\]',
        ),
        ({"stride": 1}, ValueError, r'hparameters must have a "pad" key'),
        (
            {"stride": 0, "pad": 0},
            ValueError,
            r'hparameters\["stride"\] must be >= 1, got 0',
        ),
        (
            {"stride": 1, "pad": -1},
            ValueError,
            r'hparameters\["pad"\] must be >= 0, got -1',
        ),
        (
            {"stride": 1.0, "pad": 0},
            TypeError,
            r'hparameters\["stride"\] must be an int, got 1.0',
        ),
        (
            {"stride": True, "pad": 0},
            TypeError,
            r'hparameters\["stride"\] must be an int, got True',
        ),
        ([1, 0], TypeError, r"hparameters must be a dict, got list \[1, 0\]"),
    ],
)
def test_conv_forward_rejects_bad_hparameters(hp, exc, match):
    with pytest.raises(exc, match=match):
        conv_forward(A4, W4, B4, hp)


def test_conv_forward_rejects_b_of_the_wrong_shape():
    with pytest.raises(
        ValueError,
        match=r"b must have shape \(1, 1, 1, n_C\) = "
        r"\(1, 1, 1, 5\) .* got shape \(5,\)",
    ):
        conv_forward(A4, W4, np.zeros(5), HP)


def test_conv_forward_rejects_a_channel_mismatch():
    with pytest.raises(
        ValueError,
        match=r"W \(3, 3, 3, 5\) is \(f, f, n_C_prev, n_C\) "
        r"with n_C_prev=3, but A_prev \(1, 4, 4, 2\)",
    ):
        conv_forward(A4, np.zeros((3, 3, 3, 5)), B4, HP)


def test_conv_forward_rejects_a_filter_larger_than_the_padded_input():
    with pytest.raises(
        ValueError,
        match=r"the 5x5 window does not fit A_prev of shape "
        r"\(1, 4, 4, 2\)",
    ):
        conv_forward(A4, np.zeros((5, 5, 2, 5)), B4, HP)


def test_conv_forward_rejects_arrays_of_the_wrong_rank():
    with pytest.raises(
        ValueError,
        match=r"A_prev must be 4-D \(m, n_H_prev, n_W_prev, "
        r"n_C_prev\), got shape \(4, 4, 2\)",
    ):
        conv_forward(A4[0], W4, B4, HP)
    with pytest.raises(ValueError, match=r"W must be 4-D .*got shape \(3, 3, 2\)"):
        conv_forward(A4, W4[..., 0], B4, HP)


def test_conv_forward_rejects_complex_input():
    with pytest.raises(
        TypeError,
        match=r"A_prev must be a real-valued array, got dtype "
        r"complex128",
    ):
        conv_forward(A4 + 0j, W4, B4, HP)


def test_conv_backward_rejects_a_foreign_cache():
    with pytest.raises(
        ValueError,
        match=r"cache must be the \(A_prev, W, b, "
        r"hparameters\) tuple returned by conv_forward, "
        r"got a 2-tuple",
    ):
        conv_backward(np.zeros((1, 2, 2, 5)), (A4, HP))


def test_conv_backward_rejects_dZ_of_the_wrong_shape():
    Z, cache = conv_forward(A4, W4, B4, HP)
    with pytest.raises(
        ValueError,
        match=r"dZ must have the shape of Z \(m, n_H, n_W, "
        r"n_C\), \(1, 2, 2, 5\), "
        r"got shape \(1, 3, 3, 5\)",
    ):
        conv_backward(np.zeros((1, 3, 3, 5)), cache)


def test_pool_backward_rejects_dA_of_the_wrong_shape():
    A, cache = pool_forward(A4, {"f": 2, "stride": 1})
    with pytest.raises(
        ValueError,
        match=r"dA must have the shape of A \(m, n_H, n_W, "
        r"n_C\), \(1, 3, 3, 2\), "
        r"got shape \(1, 2, 2, 2\)",
    ):
        pool_backward(np.zeros((1, 2, 2, 2)), cache)


def test_pool_forward_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match=r"mode must be 'max' or 'average', got 'avg'"):
        pool_forward(A4, {"f": 2, "stride": 2}, mode="avg")


def test_pool_forward_rejects_a_missing_f():
    with pytest.raises(
        ValueError,
        match=r'hparameters must have a "f" key, got keys '
        r"\['stride'\]",
    ):
        pool_forward(A4, {"stride": 2})


def test_pool_forward_rejects_a_window_larger_than_the_input():
    with pytest.raises(ValueError, match=r"the 5x5 window does not fit A_prev"):
        pool_forward(A4, {"f": 5, "stride": 1})


def test_pool_backward_rejects_a_conv_cache_and_an_unknown_mode():
    Z, conv_cache = conv_forward(A4, W4, B4, HP)
    with pytest.raises(
        ValueError,
        match=r"cache must be the \(A_prev, hparameters\) "
        r"tuple returned by pool_forward, "
        r"got a 4-tuple",
    ):
        pool_backward(Z, conv_cache)
    A, cache = pool_forward(A4, {"f": 2, "stride": 2})
    with pytest.raises(ValueError, match=r"mode must be 'max' or 'average', got 'MAX'"):
        pool_backward(A, cache, mode="MAX")


def test_zero_pad_rejects_a_negative_pad():
    with pytest.raises(ValueError, match=r"pad must be >= 0, got -1"):
        zero_pad(A4, -1)


def test_conv_single_step_rejects_mismatched_shapes_and_a_vector_bias():
    with pytest.raises(
        ValueError,
        match=r"a_slice_prev and W must have the same shape "
        r"\(f, f, n_C_prev\), got \(2, 2, 3\) and "
        r"\(2, 2, 2\)",
    ):
        conv_single_step(np.zeros((2, 2, 3)), np.zeros((2, 2, 2)), np.zeros((1, 1, 1)))
    with pytest.raises(ValueError, match=r"b must hold a single value, got shape \(2,\)"):
        conv_single_step(np.zeros((2, 2, 3)), np.zeros((2, 2, 3)), np.zeros(2))


def test_create_mask_rejects_an_empty_window():
    with pytest.raises(ValueError, match=r"x must not be empty, got shape \(0, 2\)"):
        create_mask_from_window(np.zeros((0, 2)))


def test_distribute_value_rejects_a_bad_shape():
    with pytest.raises(ValueError, match=r"shape must be a pair \(n_H, n_W\), got 4"):
        distribute_value(1.0, 4)
    with pytest.raises(ValueError, match=r"shape\[1\] \(n_W\) must be >= 1, got 0"):
        distribute_value(1.0, (2, 0))
