"""The README's Python examples run as written."""

import pathlib
import re
import textwrap

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
# a block inside a list item is indented with it
BLOCKS = [
    textwrap.dedent(b)
    for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
]


def test_readme_has_an_example():
    assert BLOCKS, "README.md lost its python usage example"


@pytest.mark.parametrize("source", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(source):
    exec(compile(source, str(README), "exec"), {"__name__": "readme_example"})
