"""Browser tests: the integration suite's broker fixtures, and a headless Debian Chromium.

They run once, on the embedded Tansu broker (the README's test command); CI's second pass over
tests/integration against Apache Kafka leaves them out, which keeps their cost under a minute.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (
    DEADLINE,
    bootstrap,  # noqa: F401 (the fixture, shared)
)

CHROMIUM = Path("/usr/bin/chromium")
# the machine's network is closed: nothing may reach out (updates, sync, QUIC probes)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Playwright browser context on Debian's Chromium, with a fresh profile (module-wide)."""
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM),
            headless=True, args=CHROMIUM_ARGS)
        # a loaded 2-core machine: every wait and check gets the suites' generous deadline
        context.set_default_timeout(DEADLINE * 1000)
        playwright_api.expect.set_options(timeout=DEADLINE * 1000)
        try:
            yield context
        finally:
            context.close()
