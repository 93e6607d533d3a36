"""Load a function's handler module from functions/<name>/app.py and call it like Lambda would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lodge_devtools.handlers import load_function

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["FakeLambdaContext", "invoke", "json_body", "load_function"]


@dataclass
class FakeLambdaContext:
    function_name: str = "lodge-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:lodge-test"
    aws_request_id: str = "test-request-id"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000


def invoke(name: str, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = load_function(name).lambda_handler(event, FakeLambdaContext())
    return result


def json_body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
