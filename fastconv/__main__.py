"""Command line: ``python -m fastconv <command>``.

Each command lives in its own module of :mod:`fastconv.tools`, which provides
``add_arguments(parser)`` and ``run(args) -> int``; this file only dispatches,
and imports only the module of the command it runs.
"""

import argparse
import importlib
import sys

# command name -> (module, one-line help)
COMMANDS = {
    "bench": (
        "fastconv.tools.bench",
        "time fastconv against its peers on the layer suite",
    ),
    "profile": ("fastconv.tools.profile", "where one layer's time goes, phase by phase"),
    "check": ("fastconv.tools.check", "grade and time your own course implementation"),
    "train": (
        "fastconv.tools.train",
        "train a LeNet-style CNN on scikit-learn's digits, fastconv vs the naive oracle",
    ),
}


def _parser(command=None):
    """The argument parser; with `command`, only that command's options are loaded."""
    parser = argparse.ArgumentParser(
        prog="python -m fastconv", description="fastconv command line"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text)
        cmd.set_defaults(_module=module)
        if name == command:
            importlib.import_module(module).add_arguments(cmd)
    return parser


def main(argv=None, blas_fix=False):
    """Run the command line; return the exit status.

    With `blas_fix` (only when run as a program: it restarts the process),
    commands that measure speed first restart themselves with the OpenBLAS
    core type fix when the machine needs it (see :mod:`fastconv.tools.machine`).
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = _parser(command if command in COMMANDS else None).parse_args(argv)
    module = importlib.import_module(args._module)
    if blas_fix and getattr(module, "MEASURES_SPEED", False) and not args.no_blas_fix:
        from .tools.machine import reexec_with_blas_fix

        reexec_with_blas_fix(argv)
    return module.run(args)


if __name__ == "__main__":
    sys.exit(main(blas_fix=True))
