"""The site's reference hook (docs/_hooks/reference.py), imported from its file for the tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

PATH = Path(__file__).resolve().parents[2] / "docs" / "_hooks" / "reference.py"


def reference_hook() -> ModuleType:
    """The hook module, loaded once (mkdocs loads it the same way, by path)."""
    name = "docs_reference_hook"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PATH)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
