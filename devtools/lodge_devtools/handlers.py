"""Import a function's handler module in this process (tests and the bench drive several at once)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from lodge_devtools.template import ROOT


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py once, under a unique module name: every handler is app.py."""
    module_name = f"lodge_fn_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"no handler module for function {name!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
