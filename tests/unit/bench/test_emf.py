"""bench.emf: custom metrics counted from the EMF lines handlers print."""

from __future__ import annotations

import json

from bench.emf import combinations


def emf(names: list[str], service: str) -> str:
    return json.dumps(
        {
            "_aws": {
                "Timestamp": 1,
                "CloudWatchMetrics": [
                    {"Namespace": "Lodge", "Dimensions": [["service"]], "Metrics": [{"Name": n} for n in names]}
                ],
            },
            "service": service,
            **dict.fromkeys(names, 1),
        }
    )


def test_each_metric_name_and_dimension_value_is_one_custom_metric() -> None:
    output = "\n".join(
        [
            '{"level":"INFO","message":"not a metric"}',
            emf(["ItemsRejected"], "rollbar_item"),
            emf(["ItemsRejected"], "rollbar_item"),
            emf(["ItemsRejected", "OccurrencesDuplicate"], "crashlog_events"),
        ]
    )
    assert combinations(output.encode()) == [
        "Lodge/ItemsRejected{service=crashlog_events}",
        "Lodge/ItemsRejected{service=rollbar_item}",
        "Lodge/OccurrencesDuplicate{service=crashlog_events}",
    ]
