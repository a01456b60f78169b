"""The train demo (python -m fastconv train) on small, fast configurations.

scikit-learn provides the data and matplotlib the plot; both are optional
(the 'train' extra), so the tests that need them skip, saying why, and the
messages for their absence are tested by hiding them from the import system.
"""

import argparse
import importlib.util
import io
import sys

import numpy as np
import pytest

from fastconv.tools import train as _train

HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None
HAVE_MPL = importlib.util.find_spec("matplotlib") is not None
needs_sklearn = pytest.mark.skipif(
    not HAVE_SKLEARN,
    reason="scikit-learn not installed: pip install 'fastconv[train]' "
    "to test the train demo",
)
needs_mpl = pytest.mark.skipif(
    not HAVE_MPL,
    reason="matplotlib not installed: pip install 'fastconv[train]' to test --plot",
)

QUICK = dict(epochs=1, limit=256, batch_size=64, naive_batches=0)


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m fastconv train")
    _train.add_arguments(parser)
    return parser.parse_args(argv)


def hide(monkeypatch, *modules):
    """Make `import module` fail as if it were not installed."""
    for name in list(sys.modules):
        if name.split(".")[0] in modules:
            monkeypatch.delitem(sys.modules, name)
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


# --------------------------------------------------------------------------
# data


@needs_sklearn
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_split_is_stratified_scaled_and_seeded(layout):
    x_tr, y_tr, x_te, y_te = _train.load_digits_split(
        np.random.default_rng(0), layout=layout
    )
    assert len(y_tr) + len(y_te) == 1797 and len(y_te) == 359
    n = len(y_tr)
    assert x_tr.shape == ((n, 1, 8, 8) if layout == "NCHW" else (n, 8, 8, 1))
    assert x_tr.dtype == np.float32 and x_tr.min() == 0 and x_tr.max() == 1
    # every class keeps about a fifth of its samples for the test set
    test_counts, all_counts = np.bincount(y_te), np.bincount(np.r_[y_tr, y_te])
    assert np.all(np.abs(test_counts - 0.2 * all_counts) <= 0.5)
    again = _train.load_digits_split(np.random.default_rng(0), layout=layout)
    np.testing.assert_array_equal(again[3], y_te)
    np.testing.assert_array_equal(again[2], x_te)
    other = _train.load_digits_split(np.random.default_rng(1), layout=layout)
    assert not np.array_equal(other[2], x_te)


def test_split_arguments_checked_before_loading():
    with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\), got 1\.0"):
        _train.load_digits_split(np.random.default_rng(0), test_fraction=1.0)
    with pytest.raises(ValueError, match="layout must be 'NCHW' or 'NHWC', got 'CHW'"):
        _train.load_digits_split(np.random.default_rng(0), layout="CHW")


# --------------------------------------------------------------------------
# training


@needs_sklearn
def test_result_structure():
    out = io.StringIO()
    r = _train.train_digits(seed=3, out=out, **dict(QUICK, epochs=2, naive_batches=1))
    assert (r.seed, r.layout, r.batch_size) == (3, "NHWC", 64)  # NHWC: default
    assert (r.n_train, r.n_test) == (256, 359)
    assert r.epochs == 2
    for series in (r.train_loss, r.train_accuracy, r.test_accuracy, r.epoch_time):
        assert len(series) == 2
    assert len(r.batch_loss) == 2 * 4  # 256 samples in batches of 64
    assert r.train_loss[0] == pytest.approx(np.mean(r.batch_loss[:4]))
    assert all(0 <= a <= 1 for a in r.train_accuracy + r.test_accuracy)
    assert r.final_test_accuracy == r.test_accuracy[-1]
    assert all(t > 0 for t in r.epoch_time) and r.warmup_time > 0
    assert r.naive_samples == 64 and r.naive_epoch_time > 0
    assert r.speedup == r.naive_epoch_time / r.median_epoch_time
    assert r.total_time >= sum(r.epoch_time)
    lines = out.getvalue().splitlines()  # not a terminal: one line per epoch
    assert lines[0] == (
        "data: 256 train / 359 test images (stratified 80/20 split), seed 3"
    )
    assert lines[1].startswith("training: layout NHWC, float32, batch 64")
    assert len(lines) == 4 and lines[3].startswith("epoch 2/2 [####")
    assert "\r" not in out.getvalue()


@needs_sklearn
def test_same_seed_same_result_other_seed_differs():
    a = _train.train_digits(seed=5, **QUICK)
    b = _train.train_digits(seed=5, **QUICK)
    c = _train.train_digits(seed=6, **QUICK)
    assert a.test_accuracy == b.test_accuracy
    assert a.batch_loss == b.batch_loss  # bitwise, not approximately
    assert a.batch_loss != c.batch_loss


@needs_sklearn
def test_nchw_trains():
    r = _train.train_digits(layout="NCHW", **dict(QUICK, epochs=3, limit=None))
    assert r.layout == "NCHW" and r.final_test_accuracy > 0.8


@needs_sklearn
def test_default_configuration_reaches_the_target():
    # the target: >= 97% on the held-out 20% (about 5 s of training)
    r = _train.train_digits(naive_batches=0)
    assert r.final_test_accuracy >= 0.97, r.test_accuracy


@pytest.mark.parametrize(
    "kwargs, text",
    [
        (dict(epochs=0), "epochs must be an int >= 1, got 0"),
        (dict(batch_size=2.5), "batch_size must be an int >= 1, got 2.5"),
        (dict(naive_batches=-1), "naive_batches must be an int >= 0, got -1"),
        (dict(blas_threads=True), "blas_threads must be an int >= 0, got True"),
        (dict(limit=0), "limit must be None or an int >= 1, got 0"),
    ],
)
def test_train_arguments_checked(kwargs, text):
    with pytest.raises(ValueError, match=text):
        _train.train_digits(**kwargs)


def test_progress_bar_redraws_on_a_terminal():
    pytest.importorskip("tqdm", reason="tqdm not installed: no live bar to test")

    class Tty(io.StringIO):
        def isatty(self):
            return True

    out = Tty()
    bar = _train._Progress(out, "epoch 1/1", 4, width=8)
    bar.bar.mininterval = bar.bar.miniters = 0  # redraw on every update
    bar.update(1, "loss 1.0")
    bar.update(2, "loss 0.5")
    bar.close("done")
    text = out.getvalue()
    assert "epoch 1/1 [####....] 2/4, loss 0.5" in text  # tqdm's live bar, redrawn
    assert text.endswith("epoch 1/1 [########] 4/4 done\n")  # then the summary line


# --------------------------------------------------------------------------
# command line


@needs_sklearn
@needs_mpl
def test_cli_trains_reports_and_plots(tmp_path, capsys):
    png = tmp_path / "curves.png"
    args = parse(
        [
            "--epochs",
            "1",
            "--seed",
            "1",
            "--batch-size",
            "64",
            "--naive-batches",
            "1",
            "--layout",
            "NCHW",
            "--plot",
            str(png),
        ]
    )
    assert _train.run(args) == 0
    text = capsys.readouterr().out
    for expected in (
        "test accuracy:",
        "s/epoch (median of 1 epochs;",
        "64 samples timed, scaled to the 1438-sample epoch",
        "speed-up:",
        f"plot:          {png}",
        "layout NCHW",
        "seed 1",
    ):
        assert expected in text, expected
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_missing_sklearn_message(monkeypatch, capsys):
    hide(monkeypatch, "sklearn")
    assert _train.run(parse(["--epochs", "1"])) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(
        "python -m fastconv train: scikit-learn is needed for "
        "the train demo: pip install 'fastconv[train]'"
    )
    assert "Traceback" not in captured.err and captured.out == ""


def test_train_digits_raises_missing_dependency(monkeypatch):
    hide(monkeypatch, "sklearn")
    with pytest.raises(
        _train.MissingDependency, match=r"pip install 'fastconv\[train\]'"
    ):
        _train.train_digits(**QUICK)


@needs_sklearn
def test_cli_missing_matplotlib_message_before_training(monkeypatch, capsys, tmp_path):
    hide(monkeypatch, "matplotlib")
    assert _train.run(parse(["--plot", str(tmp_path / "c.png")])) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(
        "python -m fastconv train: matplotlib is needed for "
        "--plot: pip install 'fastconv[train]'"
    )
    assert captured.out == ""  # failed before any training


@pytest.mark.parametrize(
    "argv, text",
    [
        (["--plot", "curves.jpg"], "--plot: must end in .png, got 'curves.jpg'"),
        (["--epochs", "0"], "--epochs: must be >= 1, got 0"),
        (["--batch-size", "x"], "--batch-size: must be an int, got 'x'"),
        (["--lr", "-1"], "--lr: must be > 0, got -1.0"),
        (["--layout", "CHW"], "--layout: invalid choice: 'CHW'"),
    ],
)
def test_cli_rejects_bad_options(argv, text, capsys):
    with pytest.raises(SystemExit) as exc:
        parse(argv)
    assert exc.value.code == 2
    assert text in capsys.readouterr().err
