"""CloudWatch custom metrics from what the handlers print: every Embedded Metric Format line
creates one custom metric per metric name x dimension set (with its values) in its namespace,
billed per metric-month (bench.prices), prorated by the hour in which it is published."""

from __future__ import annotations

import json
from typing import Any


def combinations(output: bytes | str) -> list[str]:
    """The distinct custom metrics the EMF lines in `output` publish, as `Namespace/Name{dim=value,...}`."""
    text = output.decode("utf-8", "replace") if isinstance(output, bytes) else output
    found: set[str] = set()
    for line in text.splitlines():
        if '"_aws"' not in line:
            continue
        try:
            blob: dict[str, Any] = json.loads(line)
        except ValueError:
            continue
        for directive in blob.get("_aws", {}).get("CloudWatchMetrics", []):
            namespace = directive.get("Namespace", "")
            for dimensions in directive.get("Dimensions", []) or [[]]:
                labels = ",".join(f"{d}={blob.get(d, '')}" for d in dimensions)
                for metric in directive.get("Metrics", []):
                    found.add(f"{namespace}/{metric['Name']}{{{labels}}}")
    return sorted(found)
