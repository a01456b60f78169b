"""Command line: ``python -m fastconv <command>``.

Each command lives in its own module, which provides ``add_arguments(parser)``
and ``run(args) -> int``; this file only dispatches.
"""

import argparse
import importlib
import sys

# command name -> (module, one-line help)
COMMANDS = {
    "bench": ("fastconv._bench", "time fastconv against the naive oracle"),
}


def main(argv=None):
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m fastconv",
                                     description="fastconv command line")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text)
        cmd.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(cmd)
    args = parser.parse_args(argv)
    return importlib.import_module(args._module).run(args)


if __name__ == "__main__":
    sys.exit(main())
