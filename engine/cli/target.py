"""Find the App a CLI TARGET names: ``module:attribute``, ``module`` or ``path/to/file.py``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType, TracebackType

from engine.app import App
from engine.errors import EngineError


class TargetError(Exception):
    """TARGET cannot be resolved to an App; the message says what and how to fix it."""


def load_app(target: str) -> App:
    """Import TARGET and return its App."""
    module_name, _, attribute = target.partition(":")
    module = _import(module_name)
    name = attribute or "app"
    app = getattr(module, name, None)
    if app is None:
        apps = [key for key, value in vars(module).items() if isinstance(value, App)]
        hint = f"; it has {', '.join(apps)} (use {module_name}:{apps[0]})" if apps else ""
        raise TargetError(f"{module_name!r} has no attribute {name!r}{hint}")
    if not isinstance(app, App):
        raise TargetError(f"{target!r} is a {type(app).__name__}, not an engine.App")
    return app


def _import(name: str) -> ModuleType:
    if name.endswith(".py") or "/" in name:
        return _import_file(Path(name))
    _importable(Path.cwd())
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name.split(".", maxsplit=1)[0] and error.name != name:
            raise UserCodeError(error) from error
        raise TargetError(
            f"no module named {name!r} (run from the folder that holds it, or pass a path to"
            " the .py file)"
        ) from error
    except EngineError:
        raise
    except Exception as error:
        raise UserCodeError(error) from error


def _import_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise TargetError(f"no such file: {str(path)!r}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise TargetError(f"{str(path)!r} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    _importable(path.resolve().parent)
    try:
        spec.loader.exec_module(module)
    except EngineError:
        raise
    except Exception as error:
        raise UserCodeError(error) from error
    return module


def _importable(folder: Path) -> None:
    """Let the user's module import its siblings, as ``python app.py`` would."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


class UserCodeError(Exception):
    """The user's module raised while being imported; shows the user's frames only."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error

    def render(self) -> str:
        """The traceback without the engine's and importlib's frames."""
        error = self.error
        tb = _user_frames(error.__traceback__)
        return "".join(traceback.format_exception(type(error), error, tb))


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    engine_root = str(Path(__file__).resolve().parents[1])
    while tb is not None and (
        tb.tb_frame.f_code.co_filename.startswith(engine_root)
        or "importlib" in tb.tb_frame.f_code.co_filename
    ):
        tb = tb.tb_next
    return tb
