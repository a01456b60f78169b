"""Every tuning knob of the engine, each with the measurement that set it.

The engine reads these at call time (``config.NAME``), so a test or an
experiment may patch one here and every module sees it; the jitted kernels'
block sizes are compiled in, so patching those changes nothing after the
first compile. Where no measurement set a value, the note says so and why
the value is what it is. Sizes are in bytes unless named otherwise. Unless
a note says otherwise, "measured" means on the project's 2-core virtual
machines (Intel Xeon with AVX-512, or AMD EPYC), each figure a median of
interleaved rounds; docs/algorithms.md and docs/results-*.md hold the runs.
"""

from . import cpu

# --------------------------------------------------------------------------
# the machine

#: L2 size assumed where the operating system does not say: a common size
#: (every x86 server core of the last years has 1-2 MiB), not a measurement.
L2_FALLBACK_BYTES = 1 << 20

#: Register tile of the brgemm kernels (fastconv._kernels.tile): WIDE
#: (AVX-512), NARROW (AVX2) or PORTABLE, read from the CPU numba compiles
#: for. A test may patch it to run a narrower kind; every kind gives
#: bitwise the same results (the FMA chains run in the same order). In L1,
#: one core, 2026-12-08, AMD EPYC (Zen 4): WIDE 112.7 float32 / 57.6
#: float64 GFLOP/s, NARROW 115.5 / 58.2 (this core runs 512-bit FMAs as
#: two 256-bit halves), both at its FMA peak.
TILE_KIND = cpu.vector_kind()

# --------------------------------------------------------------------------
# threads

#: Work (bytes touched) below which a call stays on one thread: waking a
#: pool thread costs ~60-100 us on these virtual CPUs, the time to move
#: ~1-2 MB at one core's cache bandwidth.
SPLIT_MIN_BYTES = 1 << 20

#: Forward convolutions below this many FLOPs run on one thread (about
#: 100 us of one core's GEMM rate: a second thread's wake-up would eat it).
MIN_PARALLEL_FLOPS = 2_000_000

# --------------------------------------------------------------------------
# convolution plans: tiles and slots


#: Per-core L2 cache of this machine (read once, at import).
L2_BYTES = cpu.l2_bytes() or L2_FALLBACK_BYTES

#: Target size of one tile's column matrix: half the per-core L2 cache, so
#: a band's columns stay in cache between its im2col and its GEMM, the
#: other half left to the weight and the output band (commit 08d8a21).
TILE_BYTES = L2_BYTES // 2

#: Fewest output positions of a tile (its GEMM's width), in cache or not: a
#: narrower GEMM costs more than its columns falling out of L2 (deep-3x3
#: float64: 43 -> 34 ms forward with whole-sample tiles; resnet-s2 float64
#: 12.3 -> 11.1 ms; commit ae519b5).
MIN_TILE_COLUMNS = 256

#: Slots (partial sums of grad_weight, added in slot order) of a backward
#: pass: two per core of the machine, not per thread, so the thread count
#: never changes a result; at least 4, so that two threads balance, and at
#: most 16, so the partial sums stay small. Set by reasoning, not timed.
MAX_SLOTS = min(16, max(4, 2 * cpu.usable_cores()))

#: NHWC layers whose runs of KW*C values are at most this use planar
#: columns (a plane per channel and tap), where a run is too short to copy
#: as one vector (lenet-c1, cifar-c1: C = 1-3).
PLANAR_RUN = 16

#: Pointwise NCHW/NHWC layers with a batch below this cut each sample into
#: this many bands, so that every core has work (a whole sample per item
#: otherwise: there are no columns to keep in cache).
POINTWISE_BANDS = 4

#: Plans kept per kind in the cache behind the functional calls: a network
#: has a few dozen layer shapes; each plan is a few kB.
PLAN_CACHE_SIZE = 128

# --------------------------------------------------------------------------
# choosing the algorithm ("auto")

#: Fitted seconds per unit of each cost feature (algorithms.features), per
#: dtype and layout: (im2col coefficients, Winograd coefficients, shared by
#: both tile sizes). Fitted by ``python benchmarks/calibrate.py`` on the
#: development machine (2-core Xeon, AVX-512), 2026-12-01; see
#: docs/algorithms.md.
COST = {
    ("float32", "NCHW"): (
        (7.427e-04, 3.261e-12, 2.643e-10, 8.194e-10),
        (5.023e-04, 1.052e-11, 3.051e-10, 2.007e-11, 1.647e-09),
    ),
    ("float32", "NHWC"): (
        (6.591e-04, 3.974e-12, 1.995e-10, 6.445e-10),
        (4.108e-04, 9.574e-12, 1.096e-10, 1.487e-10, 1.506e-09),
    ),
    ("float64", "NCHW"): (
        (3.582e-04, 1.304e-11, 5.470e-10, 5.543e-10),
        (4.630e-04, 2.146e-11, 7.304e-10, 8.978e-12, 1.847e-09),
    ),
    ("float64", "NHWC"): (
        (3.051e-04, 1.871e-11, 2.350e-10, 9.768e-11),
        (3.702e-04, 2.353e-11, 3.196e-10, 0.000e00, 1.790e-09),
    ),
}

#: Fewest channels and filters for Winograd: thinner GEMMs fall off the
#: rate the model was fitted at (cifar-c1, C = 3, runs 2.5x slower).
WINOGRAD_MIN_CHANNELS = 32

#: Most channels (and filters) for F(4x4, 3x3) in float32: its error grows
#: with them (deep-3x3, 256: 1.4e-05 of max|y|, against the tests' 2e-05).
WINOGRAD_4X4_MAX_CHANNELS_F32 = 128

#: Output pixels of one "brgemm" work item: each panel of filters runs
#: over all its rows before the next, so a panel (KH*KW*C*NR values, up to
#: 590 KB in float64 at 512 channels) is read once for that many pixels,
#: not once an output row. Measured, x (8, 7, 7, 512), 3x3 stride 2,
#: float64 forward: with one row an item (16 pixels) 29.1 ms against
#: im2col's 15.6.
BRGEMM_ITEM_PIXELS = 256

#: NHWC forward passes that auto's other rules give to im2col run on the
#: "brgemm" register tiles when the layer has at most BRGEMM_MAX_CHANNELS
#: channels (the first layers: im2col's columns are KH*KW times x and its
#: GEMMs thin), or at least BRGEMM_MIN_FILTERS filters and an output at
#: least BRGEMM_MIN_WIDTH wide (fewer filters leave a tile's vector lanes
#: empty; narrower rows, small images of many channels, read the weight's
#: panels for few tiles). Measured 2026-12-08, AMD EPYC (Zen 4, AVX-512),
#: 2 threads, interleaved medians of 21, im2col / brgemm forward ms,
#: float32 and float64 (the whole table: docs/algorithms.md): lenet-c1
#: 1.04 / 0.42 and 0.91 / 0.38, resnet-s2 5.87 / 5.42 and 10.78 / 10.35,
#: 7x7 32 -> 32 2.45 / 1.71 and 5.27 / 3.57; against: F = 3, 0.28 / 0.38
#: and 0.51 / 0.53; a 7x7 image of 512 channels (OW = 4), float64 11.44 /
#: 18.44.
BRGEMM_MAX_CHANNELS = 4

#: Fewest filters of the other layers on the tiles (see BRGEMM_MAX_CHANNELS):
#: 3 filters fill 3 of a float32 tile's 32 lanes (0.28 against im2col's
#: 0.38 ms above); at 16 (5x5, 16 -> 16) the tiles were 1.7x faster.
BRGEMM_MIN_FILTERS = 16

#: Narrowest output rows of the other layers on the tiles (see
#: BRGEMM_MAX_CHANNELS): at OW = 4 (7x7 images, 512 channels, stride 2)
#: float64 ran 18.44 ms against im2col's 11.44; at 14 (resnet-s2) faster.
BRGEMM_MIN_WIDTH = 8

#: NCHW layers with at most this many filters per group, and at most
#: DIRECT_FEW_CHANNELS channels per group, run "direct" (lenet-c1: GEMMs of
#: <= 8 rows over columns KK times x; the direct sums measured 2x faster
#: forward; backward only in float32, float64 1.55 against 1.20 ms).
DIRECT_FEW_FILTERS = 8

#: Most channels per group of the few-filter NCHW layers that run "direct"
#: (with DIRECT_FEW_FILTERS: lenet-c1's C = 1 and cifar-c1's C = 3 in).
DIRECT_FEW_CHANNELS = 4

#: Grouped layers with at most this many channels per group run "direct"
#: (depthwise and grouped layers, whose per-group GEMMs are too small:
#: docs/algorithms.md).
DIRECT_GROUP_MAX_CHANNELS = 8

#: Timed calls per candidate when autotuning (after one warm-up call); the
#: best counts. Three keeps a first call of a layer under ~10 passes.
AUTOTUNE_ROUNDS = 3

# --------------------------------------------------------------------------
# Winograd bands

#: A Winograd band's transformed input and output (V and M) fit this, so
#: they stay in L2 between the transforms and the GEMMs.
WINOGRAD_BAND_BYTES = 1 << 20

#: Fewest tiles of a Winograd band: below this the 16 (36) GEMMs of a band
#: are too thin for BLAS to reach its rate.
WINOGRAD_MIN_TILES = 128

# --------------------------------------------------------------------------
# pooling

#: Bytes a pooling pass moves per thread at the least. Waking a pool thread
#: costs ~100 us on the 2-core machines we measure (a virtual CPU's wake-up),
#: while the kernels move ~20 GB/s a core from cache: one cs231n-pool pass
#: (1.5 MB in float32) took 78 us on one thread and 131 us on two; at 6 MB
#: two threads start to win (291 vs 274 us), at 12 MB by 1.2-1.4x. NHWC with
#: few channels (scalar window loops, ~4x slower a byte) keeps the engine's
#: smaller split (SPLIT_MIN_BYTES): there two threads won at 2 MB (279 vs
#: 367 us).
POOL_SPLIT_BYTES = 6 << 20

#: Planes from which max-pool backward stores each element once (windows
#: that tile the plane) instead of zeroing it and scattering: a plane past
#: the L2 cache's share is then written once, not twice. Measured, one
#: thread, 2x2 windows: 32x32 float32 planes 0.124 against 0.078 ms
#: (scatter), 56x56 even (float64: 0.737 / 0.747 ms), 112x112 float64
#: 6.48 / 7.78 ms, float32 2.13 / 2.27 ms.
POOL_TILED_PLANE_BYTES = 48 << 10

#: NHWC max pooling with fewer channels than this uses the separable row
#: kernels (vectorised along W*C), which beat the channel-vectorised ones
#: (measured: cs231n-pool, C = 3, 1.5x; at C = 64 the row kernels are 5x
#: slower).
POOL_ROWS_BELOW_CHANNELS = 16

#: Fewest channels of a block when an NHWC pooling backward cuts its
#: samples into blocks of channels (fewer than two samples a core):
#: smaller blocks multiply the kernels' per-pixel overhead (loop set-up
#: per pixel and block). Set with the kernels, not timed since.
POOL_MIN_CHANNEL_BLOCK = 32

#: Bytes (input plus output) each thread of global average pooling has at
#: the least. The kernels run near one core's L3 bandwidth (25-30 GB/s on
#: the 2-core machines we measure) and a second thread costs ~40 us of the
#: call (its wake-up, ~20 us of it in the caller's submit). Measured, 11
#: rounds, fwd/bwd ms: at 3.2 MB (float32) one thread 0.147/0.143, two at
#: best 0.156/0.176 (other runs: 5-10% faster than one); at 6.4 MB
#: (float64) one 0.261/0.289, two 0.235/0.234.
GLOBAL_POOL_SPLIT_BYTES = 2 << 20

#: Bytes the calling thread moves before the pool's threads start theirs:
#: they wake ~20 us after the caller starts its piece, and a caller that
#: then has to wait for them sleeps and wakes late (~40 us more), so it
#: takes this much more than each of them and finishes last. Measured at
#: 6.4 MB (11 rounds): 0.75-1.5 MB within the noise of each other, 0.5 MB
#: 5-10% slower.
GLOBAL_POOL_CALLER_HEAD_BYTES = 1 << 20

# --------------------------------------------------------------------------
# memory

#: Default bound on the scratch matrices one call allocates: the columns of
#: a few tiles per thread fit far below it; it bounds the whole-batch
#: buffers of the plane and Winograd algorithms on large layers.
DEFAULT_WORKSPACE_LIMIT = 256 * 2**20

# --------------------------------------------------------------------------
# compiled into the kernels
#
# Block sizes the jitted kernels loop by stay in the kernel's own source,
# because numba's on-disk cache is keyed by that file: a value here would
# leave a cached kernel compiled with the old one. They are:
# - ``fastconv._kernels.depth.BLOCK = 32``: side of the square blocks the
#   3-D transposes copy (32 x 32 float64 = 8 KB: a block's source and
#   destination lines stay in L1); set by that arithmetic, not timed.
# - ``fastconv._kernels.direct.FILTER_BLOCK = 4``: filters an NCHW direct
#   item computes from one fill of the phase planes (four output grids fit
#   L1 beside the planes' rows); set with the kernel, not timed since.
# - ``fastconv._kernels.tile.SHAPES``: each tile kind's vector bytes, rows
#   and vectors, WIDE (64, 8, 2), NARROW (32, 6, 2), PORTABLE (0, 4, 8):
#   accumulators for half (AVX-512: 16 of 32) or three quarters (AVX2: 12
#   of 16) of the vector registers, the rest for B's vectors and A's
#   broadcast; set by that arithmetic (BLIS's Haswell tile is 6 x 16),
#   each at the FMA peak in L1 (TILE_KIND's note).
# - ``fastconv._kernels.adaptive._VECTOR = 32``: bytes of a vector load, the
#   width of the global-average kernels' column blocks (AVX2; LLVM emits
#   256-bit code on AVX-512 machines too unless told otherwise).
