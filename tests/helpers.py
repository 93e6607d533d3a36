"""Load a function's handler module from functions/<name>/app.py and call it like Lambda would."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class FakeLambdaContext:
    function_name: str = "lodge-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:lodge-test"
    aws_request_id: str = "test-request-id"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def load_function(name: str) -> ModuleType:
    """Import functions/<name>/app.py under a unique module name (every handler is called app.py)."""
    module_name = f"lodge_fn_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def invoke(name: str, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = load_function(name).lambda_handler(event, FakeLambdaContext())
    return result


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
