"""Command line: ``python -m fastconv <command>``.

Each command lives in its own module, which provides ``add_arguments(parser)``
and ``run(args) -> int``; this file only dispatches.
"""

import argparse
import importlib
import sys

# command name -> (module, one-line help)
COMMANDS = {
    "bench": ("fastconv._bench", "time fastconv against its peers on the layer suite"),
    "profile": ("fastconv._profile", "where one layer's time goes, phase by phase"),
    "check": ("fastconv._checker", "grade and time your own course implementation"),
    "train": ("fastconv._train",
              "train a LeNet-style CNN on scikit-learn's digits, fastconv vs the naive oracle"),
}


def main(argv=None, blas_fix=False):
    """Run the command line; return the exit status.

    With `blas_fix` (only when run as a program: it restarts the process),
    commands that measure speed first restart themselves with the OpenBLAS
    core type fix when the machine needs it (see :mod:`fastconv._machine`).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m fastconv",
                                     description="fastconv command line")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text)
        cmd.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(cmd)
    args = parser.parse_args(argv)
    module = importlib.import_module(args._module)
    if blas_fix and getattr(module, "MEASURES_SPEED", False) and not args.no_blas_fix:
        from ._machine import reexec_with_blas_fix

        reexec_with_blas_fix(argv)
    return module.run(args)


if __name__ == "__main__":
    sys.exit(main(blas_fix=True))
