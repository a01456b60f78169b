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
    """Build the argument parser; with `command`, load only that command's options."""
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


def main(argv=None):
    """Run the command line; return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = _parser(command if command in COMMANDS else None).parse_args(argv)
    return importlib.import_module(args._module).run(args)


if __name__ == "__main__":
    sys.exit(main())
