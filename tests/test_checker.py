"""The checker (fastconv.check / python -m fastconv check) grades user code.

Correct course-style loop versions pass; each module of deliberately buggy
variants in tests/course_impls is caught, and the failing function, and
only it, is named. Time-outs, exceptions, crashes and prints inside user
code are contained; the command line exits 0, 1 or 2.
"""

import argparse
import functools
import pathlib
import textwrap

import numpy as np
import pytest

from fastconv.tools import check_cases as _check_cases
from fastconv.tools.check import UsageError, add_arguments, check, format_report, run

IMPLS = pathlib.Path(__file__).resolve().parent / "course_impls"
DLAI_NAMES = [s.name for s in _check_cases.specs("dlai")]
CS231N_NAIVE = [s.name for s in _check_cases.specs("cs231n") if s.name.endswith("_naive")]
CS231N_FAST = [s.name for s in _check_cases.specs("cs231n") if s.name.endswith("_fast")]


@functools.lru_cache(maxsize=None)
def report_for(module, api):
    """Check tests/course_impls/<module>.py, once per session."""
    return check(IMPLS / f"{module}.py", api)


def cli(*argv):
    parser = argparse.ArgumentParser(prog="python -m fastconv check")
    add_arguments(parser)
    return run(parser.parse_args([str(a) for a in argv]))


# --------------------------------------------------------------------------
# correct implementations pass


def test_correct_dlai_loops_pass_every_case():
    report = report_for("dlai_loops", "dlai")
    assert [f.name for f in report.functions] == DLAI_NAMES
    assert report.missing == []
    for f in report.functions:
        assert f.passed, format_report(report)
        assert f.cases and all(c.status == "pass" for c in f.cases)
        assert f.speedup is not None and f.user_seconds > 0 and f.fast_seconds > 0
    assert report.ok and report.exit_status == 0
    # the course's own examples are in the battery, next to the edge cases
    names = [c.name for c in report["conv_forward"].cases]
    assert {"course-2021", "course-2019", "pad-0", "float32"} <= set(names)


def test_correct_cs231n_loops_pass_and_missing_fast_functions_are_listed():
    report = report_for("cs231n_loops", "cs231n")
    assert [f.name for f in report.functions] == CS231N_NAIVE
    assert report.missing == CS231N_FAST
    assert report.ok and report.exit_status == 0


@pytest.mark.parametrize(
    "module, api",
    [("fastconv.compat.dlai", "dlai"), ("fastconv.compat.cs231n", "cs231n")],
)
def test_fastconv_compat_passes_its_own_checker_by_module_name(module, api):
    report = check(module, api)
    assert report.target == module
    assert report.missing == []
    assert report.ok, format_report(report)


# --------------------------------------------------------------------------
# each bug is caught, and the failing function is named

# (module, api, function that fails, its first failing case, text of the
# message): why the bug is in the list
BUGS = [
    (
        "dlai_pad_slice",
        "dlai",
        "conv_backward",
        "pad-0",
        "raised ValueError: could not broadcast",
    ),  # the course's own X[pad:-pad] hint
    (
        "dlai_ignored_stride",
        "dlai",
        "conv_forward",
        "course-2021",
        "Z[0, 0, 1, 0] = ",
    ),  # vert_start = h, not h * stride
    (
        "dlai_off_by_one",
        "dlai",
        "pool_forward",
        "course-stride-1 max",
        "A[0, 0, 0, 0] = ",
    ),  # vert_end = vert_start + f - 1
    (
        "dlai_assign_not_add",
        "dlai",
        "pool_backward",
        "course-stride-1 max",
        "dA_prev[",
    ),  # = where overlaps need +=
    (
        "dlai_raises",
        "dlai",
        "distribute_value",
        "course",
        "raised TypeError: unsupported operand",
    ),  # an exception inside user code
    (
        "cs231n_pad_slice",
        "cs231n",
        "conv_backward_naive",
        "pad-0",
        "dx has shape (2, 3, 0, 0), expected shape (2, 3, 5, 5)",
    ),  # dx_pad[pad:-pad]
    (
        "cs231n_square_only",
        "cs231n",
        "conv_forward_naive",
        "non-square-filter",
        "out has shape (2, 3, 7, 8), expected shape (2, 3, 7, 6)",
    ),  # WW = HH
    (
        "cs231n_assign_not_add",
        "cs231n",
        "max_pool_backward_naive",
        "overlapping",
        "dx[0, 0, 0, 2] = ",
    ),  # = where overlaps need +=
]


@pytest.mark.parametrize(
    "module, api, function, case, text", BUGS, ids=[b[0] for b in BUGS]
)
def test_each_bug_is_caught_and_its_function_named(module, api, function, case, text):
    report = report_for(module, api)
    failing = [f.name for f in report.functions if not f.passed]
    assert failing == [function], format_report(report)
    bad = report[function].first_failure
    assert bad.name == case
    assert text in bad.message
    assert report.exit_status == 1
    printed = format_report(report)
    assert f"{function} -> {report[function].returns}: FAIL" in printed
    assert f"first failure: {case} (" in printed
    assert f"failing: {function}" in printed


def test_an_exception_is_reported_with_its_traceback():
    bad = report_for("dlai_pad_slice", "dlai")["conv_backward"].first_failure
    assert bad.status == "error"
    assert "dlai_pad_slice.py" in bad.traceback
    assert "da_prev_pad[pad:-pad, pad:-pad, :]" in bad.traceback
    assert "_checker.py" not in bad.traceback  # the user's frames only
    assert bad.params == dict(
        A_prev=(2, 4, 5, 3), W=(3, 3, 3, 2), stride=1, pad=0, dtype="float64"
    )


def test_assign_instead_of_add_passes_exactly_the_non_overlapping_cases():
    f = report_for("dlai_assign_not_add", "dlai")["pool_backward"]
    for c in f.cases:
        _, n_H_prev, n_W_prev, _ = c.params["A_prev"]
        fs, s = c.params["f"], c.params["stride"]
        windows = ((n_H_prev - fs) // s + 1) * ((n_W_prev - fs) // s + 1)
        overlapping = s < fs and windows > 1
        assert c.passed is not overlapping, (c.name, c.status)


def test_worst_errors_name_their_element():
    f = report_for("dlai_ignored_stride", "dlai")["conv_forward"]
    worst = f.worst_abs
    assert worst.max_abs > 1 and worst.max_abs_at.startswith("Z[")
    assert 0 < f.worst_rel.max_rel <= 1  # cs231n's rel_error is at most 1
    passing = [c for c in f.cases if c.passed]  # stride-1 cases are right
    assert passing and all(c.params["stride"] == 1 for c in passing)


# --------------------------------------------------------------------------
# slow, crashing and chatty user code


def test_a_call_that_never_returns_is_killed_at_the_time_limit():
    report = check(
        IMPLS / "dlai_forever.py",
        "dlai",
        time_limit=1.0,
        functions=["create_mask_from_window", "distribute_value"],
    )
    f = report["create_mask_from_window"]
    assert [c.status for c in f.cases] == ["timeout"] + ["skipped"] * (len(f.cases) - 1)
    assert f.first_failure.message == "did not return within the time limit of 1 s"
    assert report["distribute_value"].passed  # a fresh process took over
    assert report.exit_status == 1


def test_crashes_prints_and_odd_return_values_are_contained(tmp_path):
    impl = tmp_path / "odd.py"
    impl.write_text(
        textwrap.dedent("""
        import os
        import numpy as np
        print("printed at import")

        def zero_pad(X, pad):
            print("printed in a call")
            return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))

        def conv_single_step(a_slice_prev, W, b):
            os._exit(3)                        # kills the process

        def distribute_value(dz, shape):
            return "half"                      # not an array

        def create_mask_from_window(x):
            return np.full(x.shape, np.nan)    # NaN is never close
    """)
    )
    report = check(impl, "dlai", time_limit=5.0)
    assert report.missing == [
        "conv_forward",
        "conv_backward",
        "pool_forward",
        "pool_backward",
    ]
    assert report["zero_pad"].passed
    crash = report["conv_single_step"]
    assert [c.status for c in crash.cases] == ["crash"] + ["skipped"] * 3
    assert "exit code 3" in crash.first_failure.message
    odd = report["distribute_value"].first_failure
    assert odd.status == "fail" and odd.message == (
        "a is str, expected an array of shape (2, 2)"
    )
    nan = report["create_mask_from_window"].first_failure
    assert nan.status == "fail" and nan.max_abs == np.inf
    assert "printed" not in format_report(report)


def test_a_cs231n_backward_gets_the_standard_cache_when_the_forward_fails(tmp_path):
    impl = tmp_path / "half_done.py"
    impl.write_text(
        textwrap.dedent("""
        from tests.course_impls.cs231n_loops import conv_backward_naive

        def conv_forward_naive(x, w, b, conv_param):
            raise NotImplementedError
    """)
    )
    report = check(impl, "cs231n")
    assert [f.name for f in report.functions if not f.passed] == ["conv_forward_naive"]
    assert report["conv_backward_naive"].passed
    assert all(
        c.note == "your conv_forward_naive raised NotImplementedError, so the "
        "assignment's standard cache was used"
        for c in report["conv_backward_naive"].cases
    )


def test_user_code_cannot_modify_the_case_arrays(tmp_path):
    impl = tmp_path / "mutating.py"
    impl.write_text("def zero_pad(X, pad):\n    X += 1\n    return X\n")
    case = _check_cases.specs("dlai")[0].cases()[0]
    before = case.args[0].copy()
    report = check(impl, "dlai", functions=["zero_pad"])
    assert not report.ok
    np.testing.assert_array_equal(case.args[0], before)


# --------------------------------------------------------------------------
# the command line: exit statuses 0, 1 and 2


def test_cli_exit_0_when_everything_found_passes(capsys):
    assert cli(IMPLS / "dlai_loops.py", "--api", "dlai", "--function", "zero_pad") == 0
    out = capsys.readouterr().out
    assert "zero_pad -> X_pad: PASS (5/5 cases)" in out
    assert "1 of 1 functions pass" in out


def test_cli_exit_1_when_a_function_fails(capsys):
    status = cli(
        IMPLS / "dlai_raises.py",
        "--function",
        "distribute_value",
        "--function",
        "zero_pad",
    )
    assert status == 1
    out = capsys.readouterr().out
    assert "distribute_value -> a: FAIL (0/4 cases)" in out
    assert "1 of 2 functions pass; failing: distribute_value" in out
    assert "Traceback (most recent call last):" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["no/such/file.py"], "no such file: no/such/file.py"),
        (["no_such_module_xyz"], "no such file or module: no_such_module_xyz"),
        (
            [IMPLS / "dlai_loops.py", "--api", "keras"],
            "api must be one of ['cs231n', 'dlai'], got 'keras'",
        ),
        (
            [IMPLS / "dlai_loops.py", "--function", "conv2d"],
            "unknown dlai function(s) ['conv2d']",
        ),
        ([IMPLS], "is a directory: give the .py file"),
    ],
)
def test_cli_exit_2_for_usage_errors(capsys, argv, message):
    assert cli(*argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err


def test_cli_exit_2_when_no_function_is_found(tmp_path, capsys):
    impl = tmp_path / "unrelated.py"
    impl.write_text("def forward(x):\n    return x\n")
    assert cli(impl, "--api", "cs231n") == 2
    err = capsys.readouterr().err
    assert "none of the cs231n functions were found in" in err
    assert "conv_forward_naive" in err


@pytest.mark.parametrize(
    "source, message",
    [
        ("import numpy as np\n%matplotlib inline\n", "SyntaxError"),  # a notebook cell
        (
            "from public_tests import *\n",  # a course-only helper
            "ModuleNotFoundError: No module named 'public_tests'",
        ),
    ],
)
def test_cli_exit_2_when_the_file_does_not_import(tmp_path, capsys, source, message):
    impl = tmp_path / "notebook.py"
    impl.write_text(source)
    assert cli(impl) == 2
    err = capsys.readouterr().err
    assert "could not import" in err and message in err


def test_cli_rejects_a_non_positive_time_limit(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli(IMPLS / "dlai_loops.py", "--time-limit", "0")
    assert exit_info.value.code == 2
    assert "--time-limit: must be > 0, got 0" in capsys.readouterr().err


def test_check_rejects_a_bad_time_limit():
    with pytest.raises(
        UsageError,
        match=r"time_limit must be a positive number of "
        r"seconds, got -1",
    ):
        check(IMPLS / "dlai_loops.py", time_limit=-1)
