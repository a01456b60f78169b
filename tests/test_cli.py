"""The command line runs and reports real timings."""

import subprocess
import sys

import numpy as np

from fastconv.__main__ import main
from fastconv._bench import SMOKE_LAYERS, run_smoke


def test_smoke_bench_rows_are_real_timings():
    lines = []
    rows = run_smoke(np.float32, repeat=1, naive_batch=1, out=lines.append)
    assert [r["layer"] for r in rows] == [n for n in SMOKE_LAYERS for _ in range(2)]
    for r in rows:
        assert r["fast_ms"] > 0 and r["naive_ms"] > 0
        assert r["speedup"] == r["naive_ms"] / r["fast_ms"]
    assert "scaled to N" in lines[0] and len(lines) == 2 + len(rows)


def test_bench_rejects_bad_repeat(capsys):
    try:
        main(["bench", "--repeat", "0"])
    except SystemExit as e:
        assert e.code == 2
    else:
        raise AssertionError("--repeat 0 was accepted")
    assert "--repeat: must be >= 1, got 0" in capsys.readouterr().err


def test_module_entry_point_usage_error():
    proc = subprocess.run([sys.executable, "-m", "fastconv"], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert "bench" in proc.stderr
