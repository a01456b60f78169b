"""The Python examples of the README, CONTRIBUTING.md and docs/ run as written."""

import pathlib
import re
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(page):
    # a block inside a list item is indented with it
    text = page.read_text()
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", text, re.S)]


BLOCKS = [(page, b) for page in PAGES for b in _blocks(page)]
IDS = [f"{page.relative_to(ROOT)}:{i}" for i, (page, _) in enumerate(BLOCKS)]


def test_readme_has_an_example():
    assert _blocks(README), "README.md lost its python usage example"


def test_every_page_the_readme_links_exists():
    links = re.findall(r"\]\(([^)#]+\.md)\)", README.read_text())
    assert links, "the README links no page"
    for link in links:
        assert (ROOT / link).is_file(), link


@pytest.mark.parametrize("page, source", BLOCKS, ids=IDS)
def test_example_runs(page, source):
    exec(compile(source, str(page), "exec"), {"__name__": "readme_example"})
