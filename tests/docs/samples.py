"""The code samples of the documentation: found in the Markdown, then run or compiled.

A page's ```python blocks run in order in one namespace per page, as a reader would type them.
Two HTML comments, invisible on the site, steer that:

- ``<!-- docs-test: setup ... -->`` runs the code it holds at that point (the names a sample
  takes for granted: an ``app``, a consumer class);
- ``<!-- docs-test: fragment (reason) -->`` right before a block marks it as not runnable here
  (it needs a broker, say): it is only compiled, and the reason must say why.

A block that defines ``test_*`` functions or ``Test*`` unittest classes has them run too.
"""

from __future__ import annotations

import inspect
import re
import textwrap
import unittest
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_PATHS = (ROOT / "examples", ROOT / "examples" / "tests")

_ITEM = re.compile(
    r"<!-- docs-test: setup\n(?P<setup>.*?)\n-->"
    r"|(?:<!-- docs-test: fragment(?P<reason> \([^)\n]*\))? -->\n)?"
    r"^```python\n(?P<code>.*?)^```$",
    re.DOTALL | re.MULTILINE,
)
_MARKER = re.compile(r"<!-- docs-test:(?! setup\n| fragment \([^)\n]+\) -->)")


@dataclass(frozen=True)
class Sample:
    """One piece of code on a page: a setup, a runnable block or a fragment."""

    page: str
    line: int
    code: str
    kind: str  # "setup", "run" or "fragment"
    reason: str = ""

    @property
    def where(self) -> str:
        """``page:line``, for tracebacks and failure messages."""
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    """Every page of the site, and README.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def samples(path: Path) -> Iterator[Sample]:
    """The page's samples, in order."""
    text = path.read_text()
    page = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    bad = _MARKER.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise ValueError(f"{page}:{line}: a docs-test comment must be 'setup' or"
                         " 'fragment (reason)'")
    for match in _ITEM.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        if match.group("setup") is not None:
            yield Sample(page, line, match.group("setup"), "setup")
        elif match.group("reason") is not None or "docs-test: fragment" in match.group(0):
            reason = (match.group("reason") or "").strip(" ()")
            yield Sample(page, line, match.group("code"), "fragment", reason)
        else:
            yield Sample(page, line, match.group("code"), "run")


def run_page(path: Path, harness_factory: Callable[..., Any]) -> int:
    """Run a page's samples in one namespace; the number of blocks that ran."""
    namespace: dict[str, Any] = {"__name__": "docs_sample"}
    ran = 0
    for sample in samples(path):
        if sample.kind == "fragment":
            compile(textwrap.dedent(sample.code), sample.where, "exec")
            continue
        before = set(namespace)
        exec(compile(sample.code, sample.where, "exec"), namespace)
        if sample.kind == "run":
            ran += 1
            _run_tests(sample, {k: namespace[k] for k in set(namespace) - before},
                       harness_factory)
    return ran


def _run_tests(sample: Sample, new: dict[str, Any], harness_factory: Callable[..., Any]) -> None:
    for name, value in new.items():
        if name.startswith("test_") and inspect.isfunction(value):
            parameters = list(inspect.signature(value).parameters)
            if parameters not in ([], ["engine_harness"]):
                raise AssertionError(f"{sample.where}: {name} takes {parameters}; the docs"
                                     " runner provides engine_harness only")
            value(*([harness_factory] if parameters else []))
        elif (name.startswith("Test") and isinstance(value, type)
              and issubclass(value, unittest.TestCase)):
            result = unittest.TestResult()
            unittest.defaultTestLoader.loadTestsFromTestCase(value).run(result)
            problems = result.errors + result.failures
            assert not problems, f"{sample.where}: {name}: {problems[0][1]}"


def harness_factory(stack: ExitStack) -> Callable[..., Any]:
    """What the ``engine_harness`` fixture gives a test: harnesses closed at the end."""
    from engine.testing import Harness

    def make(app: Any, **options: Any) -> Any:
        return stack.enter_context(Harness(app, **options))
    return make
