"""Command line: ``python -m fastconv bench``."""

import argparse
import sys

import numpy as np


def main(argv=None):
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m fastconv",
                                     description="fastconv command line")
    sub = parser.add_subparsers(dest="command", required=True)
    bench = sub.add_parser("bench", help="time fastconv against the naive oracle")
    bench.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    bench.add_argument("--repeat", type=int, default=5,
                       help="interleaved repeats per contender (default 5)")
    args = parser.parse_args(argv)
    if args.command == "bench":
        if args.repeat < 1:
            parser.error(f"--repeat must be >= 1, got {args.repeat}")
        from ._bench import run_smoke

        run_smoke(np.dtype(args.dtype), repeat=args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
