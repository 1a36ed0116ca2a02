"""Every code sample of the documentation (docs/ and README.md) runs, or says why it cannot."""

from __future__ import annotations

import traceback
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.docs.samples import ROOT, SAMPLE_PATHS, harness_factory, pages, run_page, samples

PAGES = pages()


@pytest.mark.parametrize("path", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_sample_of_the_page_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for folder in SAMPLE_PATHS:  # the samples import the example app as a user's tests would
        monkeypatch.syspath_prepend(str(folder))
    with ExitStack() as stack:
        run_page(path, harness_factory(stack))


def test_every_fragment_says_why_it_cannot_run() -> None:
    fragments = [s for path in PAGES for s in samples(path) if s.kind == "fragment"]
    assert all(len(s.reason) > 10 for s in fragments), [s.where for s in fragments]


def test_fragments_are_the_exception() -> None:
    every = [s for path in PAGES for s in samples(path) if s.kind != "setup"]
    fragments = [s.where for s in every if s.kind == "fragment"]
    assert len(every) >= 15, "the samples were not found: has the fence syntax changed?"
    assert len(fragments) * 4 <= len(every), fragments


def test_a_failing_sample_fails_with_its_page_and_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n```python\nx = 1\n```\n\n```python\nassert x == 2\n```\n")
    with pytest.raises(AssertionError) as failure:
        run_page(page, lambda app, **options: None)
    assert 'File "page.md:7"' in "".join(traceback.format_exception(failure.value))


def test_a_fragment_without_a_reason_is_refused(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- docs-test: fragment -->\n```python\nx = 1\n```\n")
    with pytest.raises(ValueError, match="fragment \\(reason\\)"):
        list(samples(page))
