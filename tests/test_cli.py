"""The command line dispatches to each command and reports usage errors."""

import subprocess
import sys

import pytest

from fastconv.__main__ import COMMANDS, main


def test_every_command_has_help(capsys):
    for name in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0, name
        assert "usage:" in capsys.readouterr().out


def test_bench_rejects_bad_rounds(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--rounds", "0"])
    assert exc.value.code == 2
    assert "--rounds: must be >= 1, got 0" in capsys.readouterr().err


def test_module_entry_point_usage_error():
    proc = subprocess.run(
        [sys.executable, "-m", "fastconv"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "bench" in proc.stderr and "profile" in proc.stderr


def test_profile_through_the_entry_point():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastconv",
            "profile",
            "--layer",
            "cs231n-pool",
            "--rounds",
            "1",
            "--no-blas-fix",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "cs231n-pool NCHW float64 forward" in proc.stdout
