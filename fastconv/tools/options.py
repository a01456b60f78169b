"""Argument types shared by the commands' parsers (argparse ``type=`` callables)."""

import argparse

from . import suite

__all__ = ["positive_int", "layer", "layer_list"]


def positive_int(text):
    """Parse an int >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def layer(text):
    """Parse the name of a suite layer."""
    try:
        return suite.get_layer(text.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def layer_list(text):
    """Parse comma-separated names of suite layers."""
    return [layer(name) for name in text.split(",") if name.strip()]
