"""The command line dispatches to each command and reports usage errors; the
package and the command line import only what they need."""

import json
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
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "cs231n-pool NCHW float64 forward" in proc.stdout


LOADED = """
import json, sys
{code}
mods = sorted(m for m in sys.modules if m.startswith("fastconv") or m in
              ("sklearn", "torch", "matplotlib"))
print(json.dumps(mods))
"""


def _loaded(code):
    proc = subprocess.run(
        [sys.executable, "-c", LOADED.format(code=code)],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_import_fastconv_loads_the_engine_only():
    mods = _loaded(
        "import numpy as np, fastconv\n"
        "fastconv.conv2d(np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3)), padding=1)"
    )
    assert "fastconv.conv" in mods and "fastconv._kernels.conv" in mods
    for lazy in (
        "fastconv.naive",
        "fastconv.compat",
        "fastconv.nn",
        "fastconv.tools",
        "fastconv.tools.check",
        "torch",
        "matplotlib",
    ):
        assert lazy not in mods, lazy
    # ...and the lazy parts arrive on first use
    mods = _loaded("import fastconv\nfastconv.naive, fastconv.nn, fastconv.check")
    assert {"fastconv.naive", "fastconv.nn", "fastconv.tools.check"} <= mods


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_imports_only_its_own_module(command):
    mods = _loaded(
        "from fastconv.__main__ import main\n"
        f"try:\n    main([{command!r}, '--help'])\nexcept SystemExit:\n    pass"
    )
    tools = {m for m in mods if m.startswith("fastconv.tools.")}
    own = COMMANDS[command][0]
    assert own in tools
    # no command loads another command's module
    others = {COMMANDS[c][0] for c in COMMANDS if c != command}
    assert not (tools & others), tools & others
