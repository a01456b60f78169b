"""The ``train`` command: a LeNet-style CNN on scikit-learn's 8x8 digits.

Trains :func:`build_lenet` with :mod:`fastconv.nn` on the 1797 handwritten
digits shipped inside scikit-learn (no download), on a seeded stratified
80/20 split, then times the same training steps with the convolution and
pooling layers on the plain-loop oracle (:mod:`fastconv.naive`) on a few
batches, scaled to the epoch, to show the speed-up. Every random choice
(split, initial weights, shuffling, dropout) comes from the one ``seed``, and
the engine is bitwise deterministic, so the same seed gives the same accuracy
every run.

scikit-learn (data) and matplotlib (``--plot``) are optional: ``pip install
'fastconv[train]'``. Without them the command says so and exits with status 2.
"""

import argparse
import math
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np

from .. import naive, nn

__all__ = [
    "SKLEARN_HINT",
    "MATPLOTLIB_HINT",
    "MissingDependency",
    "TrainResult",
    "load_digits_split",
    "LENET_SUMMARY",
    "build_lenet",
    "train_digits",
    "plot_curves",
    "add_arguments",
    "run",
]

SKLEARN_HINT = "scikit-learn is needed for the train demo: pip install 'fastconv[train]'"
MATPLOTLIB_HINT = "matplotlib is needed for --plot: pip install 'fastconv[train]'"

DEFAULTS = dict(
    epochs=20,
    seed=0,
    batch_size=32,
    lr=2e-3,
    layout="NHWC",
    naive_batches=10,
    blas_threads=1,
)


class MissingDependency(ImportError):
    """An optional dependency of the demo is not installed; the message says what."""


@dataclass
class TrainResult:
    """What :func:`train_digits` measured. Lists have one entry per epoch.

    Times are wall-clock seconds. ``epoch_time`` covers the training steps
    (forward, loss, backward, Adam update over every batch), not the test
    evaluation. ``naive_epoch_time`` is the same steps with the conv and
    pool layers on :mod:`fastconv.naive`, timed on ``naive_samples``
    samples and scaled to ``n_train`` (None when ``naive_batches`` was 0).
    """

    seed: int
    layout: str
    batch_size: int
    n_train: int
    n_test: int
    train_loss: list = field(default_factory=list)  # mean batch loss per epoch
    train_accuracy: list = field(default_factory=list)  # on the epoch's batches
    test_accuracy: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    batch_loss: list = field(default_factory=list)  # every batch, all epochs
    warmup_time: float = 0.0
    naive_epoch_time: object = None
    naive_samples: int = 0
    total_time: float = 0.0

    @property
    def epochs(self):
        """Number of epochs trained."""
        return len(self.test_accuracy)

    @property
    def final_test_accuracy(self):
        """Test accuracy after the last epoch."""
        return self.test_accuracy[-1]

    @property
    def median_epoch_time(self):
        """Median of ``epoch_time``."""
        return float(np.median(self.epoch_time))

    @property
    def speedup(self):
        """Naive epoch time over the median fast epoch time (None if not timed)."""
        if self.naive_epoch_time is None:
            return None
        return self.naive_epoch_time / self.median_epoch_time


# --------------------------------------------------------------------------
# data and network


def _import_load_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise MissingDependency(f"{SKLEARN_HINT} ({exc})") from exc
    return load_digits


def load_digits_split(rng, test_fraction=0.2, layout="NCHW", dtype=np.float32):
    """scikit-learn's digits, pixels scaled to [0, 1], split per class at random.

    Parameters
    ----------
    rng : numpy.random.Generator
        Decides the split.
    test_fraction : float in (0, 1)
        Held out from every class (rounded per class).
    layout : {"NCHW", "NHWC"}
    dtype : float dtype

    Returns
    -------
    x_train : ndarray of shape (N_train, 1, 8, 8), or (N_train, 8, 8, 1) for NHWC
    y_train : ndarray of int64, shape (N_train,)
    x_test, y_test : the same for the held-out samples

    Raises
    ------
    MissingDependency
        If scikit-learn is not installed.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    if layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
    digits = _import_load_digits()()
    images = (digits.images / 16.0).astype(dtype)  # (1797, 8, 8), 0..16 -> [0, 1]
    labels = digits.target.astype(np.int64)
    test = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        test.append(members[: int(round(test_fraction * len(members)))])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(labels)), test)
    x = images[:, None] if layout == "NCHW" else images[..., None]  # add C = 1
    return x[train], labels[train], x[test], labels[test]


LENET_SUMMARY = (
    "conv3x3 1->32, relu, maxpool2 | conv3x3 32->64, relu, maxpool2 | "
    "dense 256->128, relu, dropout 0.25 | dense 128->10"
)


def build_lenet(layout="NCHW", rng=None, backend=None, dtype=np.float32, dropout=0.25):
    """Build the demo's LeNet-style network for 8x8 single-channel images, 10 classes.

    conv 3x3 "same" 1->32, ReLU, max-pool 2 (8x8 -> 4x4); conv 3x3 "same"
    32->64, ReLU, max-pool 2 (-> 2x2); flatten 256; dense 256->128, ReLU,
    dropout; dense 128->10 (logits).

    Parameters
    ----------
    layout : {"NCHW", "NHWC"}
    rng : None, int or numpy.random.Generator
        Initial weights and dropout masks.
    backend : module, optional
        ``fastconv`` (default) or ``fastconv.naive`` for the conv and pool layers.
    dtype : float dtype
    dropout : float in [0, 1)

    Returns
    -------
    nn.Sequential

    Examples
    --------
    >>> import numpy as np
    >>> net = build_lenet(rng=0)
    >>> net.forward(np.zeros((5, 1, 8, 8), np.float32)).shape
    (5, 10)
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    conv = dict(padding="same", layout=layout, dtype=dtype, rng=rng, backend=backend)
    pool = dict(layout=layout, backend=backend)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, **conv),
        nn.ReLU(),
        nn.MaxPool2d(2, **pool),
        nn.Conv2d(32, 64, 3, **conv),
        nn.ReLU(),
        nn.MaxPool2d(2, **pool),
        nn.Flatten(),
        nn.Linear(64 * 2 * 2, 128, dtype=dtype, rng=rng),
        nn.ReLU(),
        nn.Dropout(dropout, rng=rng),
        nn.Linear(128, 10, dtype=dtype, rng=rng),
    )


# --------------------------------------------------------------------------
# training


class _Progress:
    """An epoch's progress: a live tqdm bar on a terminal, then one summary line.

    The bar is tqdm's (the ``train`` extra installs it; without it, or when
    the stream is not a terminal, there is no live bar); the summary line is
    written in every case, so logs keep one line per epoch.
    """

    def __init__(self, stream, label, total, width=24):
        self.stream, self.label, self.total, self.width = stream, label, total, width
        self.bar = None
        if stream is not None and getattr(stream, "isatty", lambda: False)():
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(
                    total=total,
                    desc=label,
                    file=stream,
                    leave=False,
                    ascii=".#",
                    bar_format=f"{{desc}} [{{bar:{width}}}] "
                    "{n_fmt}/{total_fmt}{postfix}",
                )

    def update(self, done, text):
        """Redraw after `done` of `total` steps (terminals only)."""
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(done - self.bar.n)

    def close(self, text):
        """Remove the live bar and write the summary line."""
        if self.bar is not None:
            self.bar.close()
        if self.stream is not None:
            n = len(str(self.total))
            self.stream.write(
                f"{self.label} [{'#' * self.width}] "
                f"{self.total:{n}d}/{self.total} {text}\n"
            )
            self.stream.flush()


def _blas_limit(threads):
    """Context limiting numpy's BLAS to `threads` threads (0: leave it alone)."""
    if not threads:
        return nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn requires it; be lenient
        return nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def _step(model, loss_fn, opt, xb, yb):
    """One training step; returns (loss, number of correct predictions)."""
    logits = model.forward(xb)
    loss = loss_fn.forward(logits, yb)
    model.backward(loss_fn.backward())
    opt.step()
    return loss, int(np.sum(logits.argmax(axis=1) == yb))


def _accuracy(model, x, y, batch=512):
    model.eval()
    correct = 0
    for i in range(0, len(y), batch):
        predicted = model.forward(x[i : i + batch]).argmax(axis=1)
        correct += int(np.sum(predicted == y[i : i + batch]))
    model.train()
    return correct / len(y)


def train_digits(
    epochs=DEFAULTS["epochs"],
    seed=DEFAULTS["seed"],
    batch_size=DEFAULTS["batch_size"],
    lr=DEFAULTS["lr"],
    layout=DEFAULTS["layout"],
    naive_batches=DEFAULTS["naive_batches"],
    blas_threads=DEFAULTS["blas_threads"],
    limit=None,
    out=None,
):
    """Train :func:`build_lenet` on the digits; return a :class:`TrainResult`.

    Adam on mini-batches of softmax cross-entropy, the learning rate decayed
    from `lr` towards 0 over the epochs on a cosine.

    Parameters
    ----------
    epochs : int >= 1
    seed : int
        Seeds the split, the initial weights, the shuffling and dropout.
    batch_size : int >= 1
    lr : float
        Adam's initial learning rate.
    layout : {"NCHW", "NHWC"}
    naive_batches : int >= 0
        Batches to time with the oracle layers (0: skip).
    blas_threads : int >= 0
        Limit numpy's BLAS to this many threads while training (0: no limit).
        The GEMMs here are tiny, and threads only add wake-up latency.
    limit : int, optional
        Train on only the first `limit` training samples (for quick tests).
    out : text stream, optional
        Where the progress bar goes (None: silent).

    Raises
    ------
    MissingDependency
        If scikit-learn is not installed.
    """
    for name, value, low in (
        ("epochs", epochs, 1),
        ("batch_size", batch_size, 1),
        ("naive_batches", naive_batches, 0),
        ("blas_threads", blas_threads, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if limit is not None and (
        isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
    ):
        raise ValueError(f"limit must be None or an int >= 1, got {limit!r}")
    t_start = time.perf_counter()
    split_rng, init_rng, shuffle_rng, naive_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    x_train, y_train, x_test, y_test = load_digits_split(split_rng, layout=layout)
    if limit is not None:
        x_train, y_train = x_train[:limit], y_train[:limit]
    n = len(y_train)
    result = TrainResult(
        seed=seed, layout=layout, batch_size=batch_size, n_train=n, n_test=len(y_test)
    )
    if out is not None:
        threads = blas_threads or "numpy's default"
        out.write(
            f"data: {n} train / {len(y_test)} test images (stratified 80/20 "
            f"split), seed {seed}\n"
            f"training: layout {layout}, float32, batch {batch_size}, Adam lr "
            f"{lr:g} with cosine decay, {epochs} epochs, BLAS threads {threads}\n"
        )
        out.flush()
    with _blas_limit(blas_threads):
        # numba compiles (or loads from its disk cache) on first use: do it
        # on a throwaway network so that the epochs time only training
        t0 = time.perf_counter()
        scratch = build_lenet(layout, rng=0)
        _step(
            scratch,
            nn.SoftmaxCrossEntropy(),
            nn.SGD(scratch.parameters(), lr=lr),
            x_train[:2],
            y_train[:2],
        )
        result.warmup_time = time.perf_counter() - t0

        model = build_lenet(layout, rng=init_rng)
        loss_fn, opt = nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters(), lr=lr)
        n_batches = -(-n // batch_size)
        for epoch in range(1, epochs + 1):
            bar = _Progress(out, f"epoch {epoch:{len(str(epochs))}d}/{epochs}", n_batches)
            opt.lr = lr * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / epochs))  # cosine
            order = shuffle_rng.permutation(n)
            losses, correct = [], 0
            t0 = time.perf_counter()
            for b in range(n_batches):
                idx = order[b * batch_size : (b + 1) * batch_size]
                loss, right = _step(model, loss_fn, opt, x_train[idx], y_train[idx])
                losses.append(loss)
                correct += right
                seen = min((b + 1) * batch_size, n)
                bar.update(b + 1, f"loss {np.mean(losses):.4f} acc {correct / seen:.3f}")
            result.epoch_time.append(time.perf_counter() - t0)
            result.batch_loss += losses
            result.train_loss.append(float(np.mean(losses)))
            result.train_accuracy.append(correct / n)
            result.test_accuracy.append(_accuracy(model, x_test, y_test))
            bar.close(
                f"loss {result.train_loss[-1]:.4f} acc "
                f"{result.train_accuracy[-1]:.3f} | test acc "
                f"{result.test_accuracy[-1]:.3f} | {result.epoch_time[-1]:.2f} s"
            )

        if naive_batches:
            # the same steps with the oracle layers, from the trained weights
            slow = build_lenet(layout, rng=naive_rng, backend=naive)
            slow.load_state_dict(model.state_dict())
            slow_opt = nn.Adam(slow.parameters(), lr=lr)
            order = shuffle_rng.permutation(n)[: naive_batches * batch_size]
            t0 = time.perf_counter()
            slow_loss = nn.SoftmaxCrossEntropy()
            for b in range(0, len(order), batch_size):
                idx = order[b : b + batch_size]
                _step(slow, slow_loss, slow_opt, x_train[idx], y_train[idx])
            elapsed = time.perf_counter() - t0
            result.naive_samples = len(order)
            result.naive_epoch_time = elapsed * n / len(order)
    result.total_time = time.perf_counter() - t_start
    return result


def plot_curves(result, path):
    """Save the loss and accuracy curves of `result` as a PNG at `path`.

    Raises
    ------
    MissingDependency
        If matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingDependency(f"{MATPLOTLIB_HINT} ({exc})") from exc
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax_loss, ax_acc = fig.subplots(1, 2)
    per_epoch = len(result.batch_loss) / result.epochs
    steps = np.arange(1, len(result.batch_loss) + 1) / per_epoch  # in epochs
    epochs = np.arange(1, result.epochs + 1)
    ax_loss.plot(steps, result.batch_loss, lw=0.6, alpha=0.35, label="batch")
    ax_loss.plot(epochs - 0.5, result.train_loss, "o-", ms=3, label="epoch mean")
    ax_loss.set(
        xlabel="epoch", ylabel="cross-entropy", yscale="log", title="training loss"
    )
    ax_loss.legend()
    ax_acc.plot(
        epochs,
        100 * np.asarray(result.train_accuracy),
        "o-",
        ms=3,
        label="train (during the epoch)",
    )
    ax_acc.plot(
        epochs,
        100 * np.asarray(result.test_accuracy),
        "o-",
        ms=3,
        label=f"test ({result.n_test} held out)",
    )
    ax_acc.axhline(97, color="grey", lw=0.8, ls="--", label="97% target")
    ax_acc.set(
        xlabel="epoch",
        ylabel="accuracy (%)",
        ylim=(80, 100.5),
        title=f"final test accuracy {100 * result.final_test_accuracy:.1f}%",
    )
    ax_acc.legend(loc="lower right")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(
        f"fastconv.nn LeNet on scikit-learn's digits ({result.layout}, seed "
        f"{result.seed}, {result.median_epoch_time:.2f} s/epoch)"
    )
    fig.savefig(path, format="png", dpi=110)


# --------------------------------------------------------------------------
# command line


def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an int, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _png_path(text):
    if not text.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"must end in .png, got {text!r}")
    return text


def add_arguments(parser):
    """Options of ``python -m fastconv train``."""
    d = DEFAULTS
    parser.add_argument(
        "--epochs",
        type=_int_at_least(1),
        default=d["epochs"],
        help=f"training epochs (default {d['epochs']})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=d["seed"],
        help=f"seeds the split, weights, shuffling and dropout (default {d['seed']})",
    )
    parser.add_argument(
        "--batch-size",
        type=_int_at_least(1),
        default=d["batch_size"],
        help=f"mini-batch size (default {d['batch_size']})",
    )
    parser.add_argument(
        "--lr",
        type=_positive_float,
        default=d["lr"],
        help=f"initial Adam learning rate, cosine-decayed (default {d['lr']})",
    )
    parser.add_argument(
        "--layout",
        choices=["NCHW", "NHWC"],
        default=d["layout"],
        help=f"tensor layout (default {d['layout']}, the faster "
        "one for these small images)",
    )
    parser.add_argument(
        "--naive-batches",
        type=_int_at_least(0),
        default=d["naive_batches"],
        help="batches to time with the naive oracle layers, scaled "
        f"to an epoch; 0 skips (default {d['naive_batches']})",
    )
    parser.add_argument(
        "--blas-threads",
        type=_int_at_least(0),
        default=d["blas_threads"],
        help="BLAS threads while training; 0 leaves numpy's default "
        f"(default {d['blas_threads']}: the GEMMs are tiny)",
    )
    parser.add_argument(
        "--plot",
        type=_png_path,
        metavar="PATH.png",
        help="save the loss and accuracy curves to this PNG",
    )


def run(args, out=None):
    """Run ``python -m fastconv train``; return the exit status."""
    out = sys.stdout if out is None else out
    try:
        _import_load_digits()
        if args.plot:
            try:
                import matplotlib  # noqa: F401
            except ImportError as exc:
                raise MissingDependency(f"{MATPLOTLIB_HINT} ({exc})") from exc
    except MissingDependency as exc:
        print(f"python -m fastconv train: {exc}", file=sys.stderr)
        return 2

    def say(text=""):
        print(text, file=out, flush=True)

    say("fastconv train: a LeNet-style CNN on scikit-learn's 8x8 handwritten digits")
    say(f"network: {LENET_SUMMARY}")
    r = train_digits(
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        lr=args.lr,
        layout=args.layout,
        naive_batches=args.naive_batches,
        blas_threads=args.blas_threads,
        out=out,
    )
    correct = int(round(r.final_test_accuracy * r.n_test))
    say(
        f"test accuracy: {100 * r.final_test_accuracy:.2f}% ({correct}/{r.n_test} "
        f"held-out images) after {r.epochs} epochs"
    )
    say(
        f"fastconv:      {r.median_epoch_time:6.3f} s/epoch (median of {r.epochs} "
        f"epochs; {sum(r.epoch_time):.2f} s training, {r.warmup_time:.2f} s first-call "
        f"warm-up)"
    )
    if r.naive_epoch_time is not None:
        say(
            f"naive oracle:  {r.naive_epoch_time:6.3f} s/epoch (conv and pool layers on "
            f"fastconv.naive; estimated: {r.naive_samples} samples timed, scaled to "
            f"the {r.n_train}-sample epoch)"
        )
        say(f"speed-up:      {r.speedup:.1f}x")
    if args.plot:
        plot_curves(r, args.plot)
        say(f"plot:          {args.plot}")
    say(f"total:         {r.total_time:.1f} s (after imports)")
    return 0
