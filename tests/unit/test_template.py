"""template.yaml and samconfig.toml: the deployment's guarantees, checked offline.

These catch what `sam validate --lint` and cfn-lint do not: least privilege per function, routes that
API Gateway can create (no trailing slash), one owner per route, storage settings the code relies on.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from lodge.storage import S3_EXPIRE_TAG
from lodge.storage.issues import LISTED_ATTR
from lodge.storage.keys import ISSUE_INDEX
from lodge.storage.records import RECORD_FILTER
from lodge_devtools.template import ROOT, load, resources

TEMPLATE = load()
FUNCTIONS = resources(TEMPLATE, "AWS::Serverless::Function")
GLOBALS = TEMPLATE.get("Globals", {}).get("Function", {})
FUNCTION_DIRS = [
    "rollbar_item",
    "rollbar_read",
    "rollbar_deploy",
    "appsignal_push",
    "appsignal_markers",
    "appsignal_query",
    "crashlog_events",
    "crashlog_announce",
    "crashlog_locate",
    "protocol_fallback",  # issue 14: protocol error JSON for unserved paths under a protocol prefix
    "sentry_ingest",
    "console",
    "alert_deliver",
    "digest",
]
INGEST = {"rollbar_item", "appsignal_push", "crashlog_events", "sentry_ingest"}
READERS = {"rollbar_read", "appsignal_query", "crashlog_locate"}
# Readers that also write, and why (docs/deploy.md lists the same).
READER_WRITES = {
    "appsignal_query": "POST /api/{app_id}/markers.json creates deploy markers, DELETE markers/{id}.json removes one"
}
READER_WRITE_ACTIONS = {"appsignal_query": {"dynamodb:putitem", "dynamodb:deleteitem"}}
# The console reads like a reader and writes only issue status, credentials and its session key.
CONSOLE = "console"
FORBIDDEN_ACTIONS = {"dynamodb:scan", "dynamodb:deletetable", "dynamodb:createtable", "dynamodb:updatetable"}
# API Gateway validates each path part of an HTTP API route key against this expression.
PATH_PART = re.compile(r"^(\{[\w.:-]+\+?\}|[a-zA-Z0-9.:_-]+)$")


def _prop(name: str, key: str) -> Any:
    """A function property, falling back to Globals.Function like SAM does."""
    props = FUNCTIONS[name]["Properties"]
    return props[key] if key in props else GLOBALS.get(key)


def _dir(name: str) -> str:
    return str(FUNCTIONS[name]["Properties"]["CodeUri"]).strip("/").split("/")[-1]


BY_DIR = {_dir(name): name for name in FUNCTIONS}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(name: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in _as_list(FUNCTIONS[name]["Properties"].get("Policies", [])):
        assert isinstance(policy, dict) and set(policy) == {"Statement"}, (
            f"{name}: policies must be inline statements so least privilege can be checked, got {policy!r}"
        )
        statements.extend(_as_list(policy["Statement"]))
    return statements


def _actions(name: str) -> set[str]:
    return {a.lower() for s in _statements(name) if s.get("Effect") == "Allow" for a in _as_list(s["Action"])}


def _events(name: str) -> dict[str, dict[str, Any]]:
    events: dict[str, dict[str, Any]] = FUNCTIONS[name]["Properties"].get("Events", {})
    return events


def test_one_function_per_endpoint_directory() -> None:
    assert sorted(BY_DIR) == sorted(FUNCTION_DIRS)
    on_disk = sorted(p.name for p in (ROOT / "functions").iterdir() if p.is_dir() and not p.name.startswith("."))
    assert on_disk == sorted(FUNCTION_DIRS), "every functions/<name>/ is a declared function and vice versa"


@pytest.mark.parametrize("directory", FUNCTION_DIRS)
def test_function_code_uri_has_handler(directory: str) -> None:
    name = BY_DIR[directory]
    assert FUNCTIONS[name]["Properties"]["CodeUri"] == f"functions/{directory}/"
    assert (ROOT / "functions" / directory / "app.py").is_file(), f"functions/{directory}/app.py is missing"
    assert (ROOT / "functions" / directory / "requirements.txt").is_file()
    assert _prop(name, "Handler") == "app.lambda_handler"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_runtime_and_limits(name: str) -> None:
    assert _prop(name, "Runtime") == "python3.11"
    assert _prop(name, "Architectures") == ["arm64"]
    assert 1 <= int(_prop(name, "Timeout")) <= 30
    assert {"Ref": "LodgeLayer"} in _prop(name, "Layers")


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_logs_to_its_own_group_with_retention(name: str) -> None:
    group_ref = FUNCTIONS[name]["Properties"]["LoggingConfig"]["LogGroup"]
    group = TEMPLATE["Resources"][group_ref["Ref"]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    other_users = [
        f for f in FUNCTIONS if f != name and FUNCTIONS[f]["Properties"].get("LoggingConfig") == {"LogGroup": group_ref}
    ]
    assert not other_users, f"{name} shares its log group with {other_users}"


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_policies_are_least_privilege(name: str) -> None:
    for statement in _statements(name):
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{name}: wildcard action {action}"
            assert action.lower() not in FORBIDDEN_ACTIONS, f"{name}: {action} is not for a request handler"
        for resource in _as_list(statement["Resource"]):
            assert resource != "*", f"{name}: statement on every resource"
        services = {a.split(":")[0] for a in _as_list(statement["Action"])}
        resources_text = str(statement["Resource"])
        if services == {"dynamodb"}:
            assert "Table" in resources_text and "PayloadBucket" not in resources_text
        elif services == {"s3"}:
            assert statement["Resource"] == {"Fn::Sub": "${PayloadBucket.Arn}/*"}, "objects of our bucket only"
        elif services == {"sqs"} and name == BY_DIR["digest"]:  # its failed batches; the alerts it hands off
            assert statement["Resource"] in (
                {"Fn::GetAtt": ["DigestDeadLetterQueue", "Arn"]},
                {"Fn::GetAtt": ["AlertQueue", "Arn"]},
            )
            assert _as_list(statement["Action"]) == ["sqs:SendMessage"]
        elif services == {"sqs"}:  # alerts: only the alert queue
            assert statement["Resource"] == {"Fn::GetAtt": ["AlertQueue", "Arn"]}
        elif services == {"sns"}:  # alerts: only the email topic
            assert statement["Resource"] == {"Ref": "AlertTopic"}
        else:
            pytest.fail(f"{name}: one service per statement, got {services}")


@pytest.mark.parametrize("directory", sorted(INGEST))
def test_ingest_functions_write_but_never_read_detail(directory: str) -> None:
    actions = _actions(BY_DIR[directory]) - {"sqs:sendmessage"}  # alerts' hand-off (issue 11)
    # Issue 15, point 9: no dynamodb:DeleteItem and no s3:DeleteObjectTagging any more - since accept/
    # digest the request path never rolls a record back (delete_record) nor keeps one (keep_record).
    assert actions == {
        "dynamodb:getitem",
        "dynamodb:putitem",
        "dynamodb:updateitem",
        "s3:putobject",
        "s3:putobjecttagging",
    }
    assert "s3:getobject" not in actions


@pytest.mark.parametrize("directory", sorted(READERS))
def test_read_functions_do_not_write(directory: str) -> None:
    actions = _actions(BY_DIR[directory])
    writes = {a for a in actions if a in ("dynamodb:putitem", "dynamodb:deleteitem", "dynamodb:batchwriteitem")}
    writes |= {a for a in actions if a.startswith("s3:") and a != "s3:getobject"}
    if directory in READER_WRITES:
        assert writes == READER_WRITE_ACTIONS[directory], READER_WRITES[directory]
    else:
        assert not writes, f"{directory} only reads, yet may {sorted(writes)}"


def test_s3_detail_is_read_only_by_readers() -> None:
    readers_of_detail = {d for d, name in BY_DIR.items() if "s3:getobject" in _actions(name)}
    assert readers_of_detail <= READERS | {CONSOLE, "digest"}  # the digest decodes offloaded records to count them
    assert {"rollbar_read", "appsignal_query"} <= readers_of_detail


def test_console_writes_only_status_credentials_and_its_key() -> None:
    name = BY_DIR[CONSOLE]
    assert _actions(name) - CONSOLE_ALERT_ACTIONS == {
        "dynamodb:getitem",
        "dynamodb:query",
        "dynamodb:batchgetitem",  # a page's issues (issue 16 point 3): a read
        "dynamodb:putitem",
        "dynamodb:updateitem",
        "dynamodb:deleteitem",
        "s3:getobject",
    }
    for statement in _statements(name):
        if {"dynamodb:PutItem", "dynamodb:DeleteItem"} & set(_as_list(statement["Action"])):
            keys = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
            # Issue 15, point 9: SEC# too - a rotated CrashLog token's secret is an item of its own.
            assert sorted(keys) == ["LODGE#CONSOLE", "PRJ#*", "SEC#*", "TOK#*"], "never the rate-limit counters (RL#)"


# Alert rules in Settings (issue 11): an email rule subscribes to the alert topic, "Send test" publishes.
CONSOLE_ALERT_ACTIONS = {"sns:subscribe", "sns:publish"}


def test_console_may_subscribe_and_publish_only_to_the_alert_topic() -> None:
    name = BY_DIR[CONSOLE]
    sns = [s for s in _statements(name) if any(str(a).lower().startswith("sns:") for a in _as_list(s["Action"]))]
    assert [{a.lower() for a in _as_list(s["Action"])} for s in sns] == [CONSOLE_ALERT_ACTIONS]
    assert sns[0]["Resource"] == {"Ref": "AlertTopic"}
    assert FUNCTIONS[name]["Properties"]["Environment"]["Variables"]["ALERT_TOPIC_ARN"] == {"Ref": "AlertTopic"}


def test_only_issue_listings_query_an_index() -> None:
    """Occurrence listings are digest-written items of the table itself (issue 16); the issue
    listing index is granted by name, to the functions that list issues only."""
    index = {"Fn::Sub": f"${{Table.Arn}}/index/{ISSUE_INDEX}"}
    for name in FUNCTIONS:
        for statement in _statements(name):
            if "dynamodb:Query" in _as_list(statement["Action"]):
                resources = _as_list(statement["Resource"])
                assert resources in ([{"Fn::GetAtt": ["Table", "Arn"]}], [index]), name
                if resources == [index]:
                    assert name in (BY_DIR["rollbar_read"], BY_DIR["console"]), name


def test_digest_event_source_mapping() -> None:
    (event,) = _events(BY_DIR["digest"]).values()
    props = event["Properties"]
    assert event["Type"] == "DynamoDB"
    assert props["Stream"] == {"Fn::GetAtt": ["Table", "StreamArn"]}
    assert props["MaximumBatchingWindowInSeconds"] <= 2
    # Large batches amortize the per-issue update over many events (bench.digest_run); Lambda's
    # 6 MB invocation payload cuts a batch earlier than that.
    assert props["BatchSize"] == 10_000
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] >= 1
    assert props["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["DigestDeadLetterQueue", "Arn"]},
    }
    (pattern,) = [f["Pattern"] for f in props["FilterCriteria"]["Filters"]]
    import json

    assert json.loads(pattern) == RECORD_FILTER
    alarms = resources(TEMPLATE, "AWS::CloudWatch::Alarm")
    assert any(a["Properties"]["MetricName"] == "IteratorAge" for a in alarms.values())
    assert any(a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible" for a in alarms.values())


def test_table_settings() -> None:
    ((_, table),) = resources(TEMPLATE, "AWS::DynamoDB::Table").items()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    # Occurrence listings are digest-written items (issue 16); the one index is the sparse issue
    # listing index, keyed by an attribute only issue items carry (lodge.storage.issues.LISTED_ATTR).
    (index,) = props["GlobalSecondaryIndexes"]
    assert index["IndexName"] == ISSUE_INDEX
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["pk", LISTED_ATTR]
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    assert "cnt" not in index["Projection"]["NonKeyAttributes"], "counts change every batch: not projected"
    assert props["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert table["DeletionPolicy"] == "Retain"


def test_bucket_settings() -> None:
    ((_, bucket),) = resources(TEMPLATE, "AWS::S3::Bucket").items()
    props = bucket["Properties"]
    block = props["PublicAccessBlockConfiguration"]
    flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    assert all(block[flag] is True for flag in flags)
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    tag_key, tag_value = S3_EXPIRE_TAG.split("=")
    (expiry,) = [r for r in props["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r]
    assert expiry["Status"] == "Enabled"
    assert expiry["ExpirationInDays"] == {"Ref": "RetentionDays"}
    assert expiry["TagFilters"] == [{"Key": tag_key, "Value": tag_value}], "first occurrences are kept by untagging"
    assert "Prefix" not in expiry


def test_bucket_policy_denies_insecure_transport() -> None:
    ((_, policy),) = resources(TEMPLATE, "AWS::S3::BucketPolicy").items()
    assert policy["Properties"]["Bucket"] == {"Ref": "PayloadBucket"}
    (deny,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {"Fn::GetAtt": ["PayloadBucket", "Arn"]} in deny["Resource"]
    assert {"Fn::Sub": "${PayloadBucket.Arn}/*"} in deny["Resource"]


def test_layer_is_built_from_the_package_directory() -> None:
    ((_, layer),) = resources(TEMPLATE, "AWS::Serverless::LayerVersion").items()
    assert layer["Properties"]["ContentUri"] == "layers/lodge/python/"
    assert layer["Metadata"]["BuildMethod"] == "python3.11"
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
    assert (ROOT / "layers/lodge/python/lodge/__init__.py").is_file()
    assert (ROOT / "layers/lodge/python/requirements.txt").is_file()


def test_http_api() -> None:
    apis = resources(TEMPLATE, "AWS::Serverless::HttpApi")
    assert list(apis) == ["LodgeApi"]
    props = apis["LodgeApi"]["Properties"]
    assert props["FailOnWarnings"] is True
    assert props["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
    }
    cors = props["CorsConfiguration"]
    assert cors["AllowOrigins"] == ["*"] and "AllowCredentials" not in cors
    assert {"POST", "OPTIONS"} <= set(cors["AllowMethods"])
    assert "x-rollbar-access-token" in cors["AllowHeaders"]
    assert not resources(TEMPLATE, "AWS::Serverless::Api"), "REST APIs cost more; Lodge uses one HTTP API"


def _routes() -> list[tuple[str, str, str]]:
    routes = []
    for name in FUNCTIONS:
        for event_id, event in _events(name).items():
            if name == "AlertDeliverFunction" and event["Type"] == "SQS":
                continue  # alerts: the delivery function is triggered by its queue, not a route
            if name == BY_DIR["digest"]:
                continue  # the stream's event source mapping (test_digest_event_source_mapping)
            assert event["Type"] == "HttpApi", f"{name}.{event_id}"
            props = event["Properties"]
            assert props["ApiId"] == {"Ref": "LodgeApi"}, f"{name}.{event_id} must attach to LodgeApi"
            assert props.get("PayloadFormatVersion", "2.0") == "2.0"
            routes.append((props["Method"].upper(), props["Path"], name))
    return routes


def test_every_route_is_unique() -> None:
    seen: dict[str, str] = {}
    for method, path, name in _routes():
        key = f"{method} {path}"
        assert key not in seen, f"{key} is declared by {seen.get(key)} and {name}"
        seen[key] = name


def test_route_paths_are_valid_http_api_route_keys() -> None:
    """API Gateway rejects (CreateRoute) or silently drops (OpenAPI import) a path ending in "/"."""
    for method, path, name in _routes():
        assert path.startswith("/"), (name, path)
        parts = path[1:].split("/")
        assert all(PATH_PART.match(p) for p in parts), f"{name}: {method} {path} is not a valid route key"
        assert "+}" not in path or path.endswith("+}"), f"{name}: greedy variable must be last in {path}"


@pytest.mark.parametrize(
    ("method", "path", "directory"),
    [
        ("POST", "/api/1/item", "rollbar_item"),
        ("POST", "/api/1/item/{proxy+}", "rollbar_item"),  # serves POST /api/1/item/ (pyrollbar, rollbar.js)
        ("POST", "/api/1/deploy", "rollbar_deploy"),
        ("POST", "/api/1/deploy/{proxy+}", "rollbar_deploy"),  # POST /api/1/deploy/
        ("GET", "/api/1/item/{proxy+}", "rollbar_read"),  # GET /api/1/item/?uuid=
        ("GET", "/api/1/items/{proxy+}", "rollbar_read"),  # GET /api/1/items/
        ("POST", "/1/log_entries", "appsignal_push"),
        ("POST", "/events", "crashlog_events"),
        ("POST", "/api/{app_id}/envelope/{proxy+}", "sentry_ingest"),  # POST /api/<n>/envelope/ (every SDK)
        ("POST", "/api/{app_id}/store/{proxy+}", "sentry_ingest"),  # POST /api/<n>/store/ (legacy SDKs)
    ],
)
def test_client_paths_are_routed(method: str, path: str, directory: str) -> None:
    assert (method, path, BY_DIR[directory]) in _routes()


def test_globals_environment_points_at_the_stack() -> None:
    env = GLOBALS["Environment"]["Variables"]
    assert env["TABLE_NAME"] == {"Ref": "Table"}
    assert env["BUCKET_NAME"] == {"Ref": "PayloadBucket"}
    assert env["RETENTION_DAYS"] == {"Ref": "RetentionDays"}
    assert env["OFFLOAD_THRESHOLD"] == {"Ref": "OffloadThreshold"}


def test_parameters_and_outputs() -> None:
    params = TEMPLATE["Parameters"]
    assert params["RetentionDays"]["Default"] == 90
    assert "OffloadThreshold" in params
    assert set(TEMPLATE["Outputs"]) >= {"ApiUrl", "TableName", "BucketName"}
    assert "LodgeApi" in str(TEMPLATE["Outputs"]["ApiUrl"]["Value"])


def _overrides(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split())


@pytest.mark.parametrize(("env", "stack"), [("default", "lodge"), ("staging", "lodge-staging")])
def test_samconfig_environment(env: str, stack: str) -> None:
    config = tomllib.loads(Path(ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    assert config["version"] == 0.1
    deploy = config[env]["deploy"]["parameters"]
    assert deploy["stack_name"] == stack
    assert config[env]["global"]["parameters"]["stack_name"] == stack
    assert deploy["resolve_s3"] is True
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    overrides = _overrides(deploy["parameter_overrides"])
    assert set(overrides) <= set(TEMPLATE["Parameters"]), "every override names a template parameter"
    for key, value in overrides.items():
        spec = TEMPLATE["Parameters"][key]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], key
        if "MinValue" in spec:
            assert spec["MinValue"] <= int(value) <= spec.get("MaxValue", int(value)), key
    assert config[env]["build"]["parameters"] == {"cached": True, "parallel": True}
    assert config[env]["validate"]["parameters"] == {"lint": True}


def test_samconfig_retention() -> None:
    config = tomllib.loads(Path(ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    production = _overrides(config["default"]["deploy"]["parameters"]["parameter_overrides"])
    staging = _overrides(config["staging"]["deploy"]["parameters"]["parameter_overrides"])
    assert production["RetentionDays"] == "90" and production["OffloadThreshold"] == "4096"
    assert config["default"]["deploy"]["parameters"]["confirm_changeset"] is True
    assert int(staging["RetentionDays"]) < int(production["RetentionDays"])


def test_route_settings_name_declared_routes() -> None:
    """A RouteSettings key that names no route fails only at deploy time; catch it here."""
    declared = {f"{method} {path}" for method, path, _ in _routes()}
    settings = resources(TEMPLATE, "AWS::Serverless::HttpApi")["LodgeApi"]["Properties"].get("RouteSettings", {})
    assert settings, "the AppSignal push routes need their own (looser) throttle"
    for route_key in settings:
        assert route_key in declared, f"RouteSettings names {route_key!r}, which no function declares"


def test_appsignal_push_routes_are_not_throttled_by_the_default() -> None:
    """API Gateway's 429 shuts the AppSignal gem's agent down until the app restarts (docs/protocols/appsignal.md)."""
    settings = resources(TEMPLATE, "AWS::Serverless::HttpApi")["LodgeApi"]["Properties"]["RouteSettings"]
    push = {f"POST {path}" for method, path, name in _routes() if name == "AppsignalPushFunction"}
    assert push and push <= set(settings)
    for route_key in push:
        assert settings[route_key]["ThrottlingRateLimit"] == {"Ref": "PushThrottlingRateLimit"}


# ---- issue 15, point 9: least privilege per item (docs/deploy.md, "Permissions per item") ------------
# IAM is not enforced by moto nor by the local runner: these tests are the proof. The first pins each
# function's DynamoDB grants (action -> the partition-key patterns it may touch, and the ones excluded),
# so a widened grant fails here; the second evaluates the conditions against keys made by the real key
# functions; tests/unit/functions/test_permissions.py checks every call the handlers make.

from lodge.storage import keys as storage_keys  # noqa: E402
from lodge_devtools import iam  # noqa: E402

RECORDS = "PRJ#*#?"  # a record partition: PRJ#<project>#<one hex digit>; project ids never hold "#"
Grant = tuple[str, tuple[str, ...], tuple[str, ...]]  # (action, LeadingKeys like, LeadingKeys not like)
INGEST_GRANTS: set[Grant] = {
    ("getitem", ("PRJ#*", "TOK#*"), (RECORDS,)),  # the token, the project's settings (scrubbing, floods)
    ("updateitem", ("RL#*",), ()),  # rate-limit windows
    ("putitem", (RECORDS,), ()),  # the record
    ("updateitem", ("PRJ#*",), (RECORDS,)),  # floods: `ADD dr` on the issue (attribute-limited below)
}
PROJECT_ONLY = (("PRJ#*",), (RECORDS,))
DYNAMODB_GRANTS: dict[str, set[Grant]] = {
    "rollbar_item": INGEST_GRANTS,
    "appsignal_push": INGEST_GRANTS,
    "sentry_ingest": INGEST_GRANTS | {("updateitem", *PROJECT_ONLY)},  # client-report discard counters
    "crashlog_events": {("getitem", ("PRJ#*", "SEC#*", "TOK#*"), (RECORDS,))}
    | (INGEST_GRANTS - {("getitem", ("PRJ#*", "TOK#*"), (RECORDS,))}),
    "crashlog_announce": {
        ("getitem", ("PRJ#*", "SEC#*", "TOK#*"), (RECORDS,)),
        ("updateitem", ("RL#*",), ()),
        ("putitem", *PROJECT_ONLY),  # the announce marker
    },
    "crashlog_locate": {("getitem", ("PRJ#*#?", "SEC#*", "TOK#*"), ())},
    "rollbar_read": {
        ("getitem", ("PRJ#*", "TOK#*"), ()),
        ("query", *PROJECT_ONLY),  # the table, and the issue listing index (issue 16)
        ("batchgetitem", ("PRJ#*",), ()),  # a listing page's issues or an instances page's records (issue 16)
        ("updateitem", *PROJECT_ONLY),  # triage, item counters
    },
    "rollbar_deploy": {
        ("getitem", ("PRJ#*", "TOK#*"), (RECORDS,)),
        ("putitem", *PROJECT_ONLY),
        ("updateitem", *PROJECT_ONLY),
    },
    "appsignal_markers": {("getitem", ("TOK#*",), (RECORDS,)), ("putitem", *PROJECT_ONLY)},
    "appsignal_query": {
        ("getitem", ("PRJ#*", "TOK#*"), ()),
        ("batchgetitem", ("PRJ#*",), ()),  # an errors page's issues (issue 16)
        ("query", *PROJECT_ONLY),
        ("putitem", *PROJECT_ONLY),
        ("updateitem", *PROJECT_ONLY),
        ("deleteitem", *PROJECT_ONLY),
    },
    "console": {
        ("getitem", ("*",), ("SEC#*",)),  # unconditioned but for the secrets
        ("query", ("*",), ("SEC#*",)),
        ("query", *PROJECT_ONLY),  # the issue listing index (issue 16)
        ("batchgetitem", *PROJECT_ONLY),  # a listing page's issues (issue 16)
        ("putitem", ("LODGE#CONSOLE", "PRJ#*", "SEC#*", "TOK#*"), (RECORDS,)),
        ("updateitem", *PROJECT_ONLY),
        ("deleteitem", ("LODGE#CONSOLE", "PRJ#*", "SEC#*", "TOK#*"), (RECORDS,)),
    },
    "alert_deliver": {("getitem", *PROJECT_ONLY), ("query", *PROJECT_ONLY), ("updateitem", *PROJECT_ONLY)},
    "digest": {
        ("getitem", *PROJECT_ONLY),  # the project's settings item: the flood limit (lodge.flood)
        ("putitem", *PROJECT_ONLY),
        ("updateitem", *PROJECT_ONLY),
        ("updateitem", (RECORDS,), ()),
    },
    "protocol_fallback": set(),
}


def _dynamodb_statements(name: str) -> list[dict[str, Any]]:
    return [s for s in _statements(name) if any(str(a).startswith("dynamodb:") for a in _as_list(s["Action"]))]


def _grants(name: str) -> set[Grant]:
    grants: set[Grant] = set()
    for statement in _dynamodb_statements(name):
        condition = statement.get("Condition") or {}
        like = condition.get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys", ["*"])
        unlike = condition.get("ForAllValues:StringNotLike", {}).get("dynamodb:LeadingKeys", [])
        for action in _as_list(statement["Action"]):
            grants.add((action.split(":")[1].lower(), tuple(sorted(like)), tuple(sorted(unlike))))
    return grants


def test_every_function_has_pinned_dynamodb_grants() -> None:
    assert sorted(DYNAMODB_GRANTS) == sorted(FUNCTION_DIRS)


@pytest.mark.parametrize("directory", sorted(DYNAMODB_GRANTS))
def test_dynamodb_grants_are_pinned_per_item(directory: str) -> None:
    """Widening a function's actions or the keys it may touch must change this table, on purpose."""
    assert _grants(BY_DIR[directory]) == DYNAMODB_GRANTS[directory]


@pytest.mark.parametrize("directory", sorted(d for d in DYNAMODB_GRANTS if d != CONSOLE))
def test_only_the_console_has_an_unconditioned_dynamodb_grant(directory: str) -> None:
    for statement in _dynamodb_statements(BY_DIR[directory]):
        assert statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys"), (
            directory,
            statement,
        )


@pytest.mark.parametrize("directory", sorted(INGEST))
def test_ingest_functions_cannot_delete_or_write_credentials(directory: str) -> None:
    """The request path writes one record and never rolls back (accept/digest): no DeleteItem at all."""
    assert "dynamodb:deleteitem" not in _actions(BY_DIR[directory])


def test_only_crashlog_functions_read_secrets_and_say_so_in_their_environment() -> None:
    secret = iam.Call("dynamodb:GetItem", (storage_keys.secret_pk("ab" * 32),))
    readers = {d for d in FUNCTION_DIRS if iam.allows(_dynamodb_statements(BY_DIR[d]), secret)}
    assert readers == {"crashlog_events", "crashlog_announce", "crashlog_locate"}
    assert GLOBALS["Environment"]["Variables"]["READS_SECRETS"] == "false"
    for directory in FUNCTION_DIRS:
        variables = FUNCTIONS[BY_DIR[directory]]["Properties"].get("Environment", {}).get("Variables", {})
        assert (variables.get("READS_SECRETS") == "true") == (directory in readers), directory


# Keys of every kind, made by the real key functions from sample ids.
PROJECT_ID, TOKEN_HASH = "5114f7e38c5ce90000000011", "3f1c" * 16
SAMPLE_RECORD_IDS = [f"{i:024x}" for i in range(64)]  # covers all RECORD_SHARDS partitions
RECORD_KEYS = [storage_keys.record_pk(PROJECT_ID, r) for r in SAMPLE_RECORD_IDS]
PROJECT_KEY = storage_keys.project_pk(PROJECT_ID)
TOKEN_KEY = storage_keys.token_pk(TOKEN_HASH)
SECRET_KEY = storage_keys.secret_pk(TOKEN_HASH)
RATE_KEY = storage_keys.rate_limit_pk(TOKEN_HASH)
CONSOLE_KEY = "LODGE#CONSOLE"
ALL_KEYS = {"record": RECORD_KEYS[0], "project": PROJECT_KEY, "token": TOKEN_KEY, "secret": SECRET_KEY}
ALL_KEYS |= {"rate limit": RATE_KEY, "console key": CONSOLE_KEY}
RL_UPDATE = {"attributes": ("c", "pk", "sk", "ttl"), "return_values": "UPDATED_NEW"}
# (action, key kinds the function's code uses that way, extra request properties)
Uses = list[tuple[str, list[str], dict[str, Any]]]
INGEST_USES: Uses = [
    ("GetItem", [TOKEN_KEY, PROJECT_KEY], {}),
    ("UpdateItem", [RATE_KEY], RL_UPDATE),
    ("PutItem", RECORD_KEYS, {}),
    ("UpdateItem", [PROJECT_KEY], {"attributes": ("dr", "pk", "sk"), "return_values": "NONE"}),  # floods
]
USES: dict[str, Uses] = {
    "rollbar_item": INGEST_USES,
    "appsignal_push": INGEST_USES,
    "sentry_ingest": [
        *INGEST_USES,
        ("UpdateItem", [PROJECT_KEY], {"attributes": ("d:ratelimit_backoff:error", "pk", "sk", "ttl")}),
    ],
    "crashlog_events": [*INGEST_USES, ("GetItem", [SECRET_KEY], {})],
    "crashlog_announce": [
        ("GetItem", [TOKEN_KEY, SECRET_KEY, PROJECT_KEY], {}),
        ("UpdateItem", [RATE_KEY], RL_UPDATE),
        ("PutItem", [PROJECT_KEY], {}),
    ],
    "crashlog_locate": [("GetItem", [TOKEN_KEY, SECRET_KEY, *RECORD_KEYS], {})],
    "rollbar_read": [
        ("GetItem", [TOKEN_KEY, PROJECT_KEY, *RECORD_KEYS], {}),
        ("Query", [PROJECT_KEY], {}),
        ("UpdateItem", [PROJECT_KEY], {"return_values": "ALL_NEW"}),
    ],
    "rollbar_deploy": [
        ("GetItem", [TOKEN_KEY, PROJECT_KEY], {}),
        ("PutItem", [PROJECT_KEY], {}),
        ("UpdateItem", [PROJECT_KEY], {"return_values": "ALL_NEW"}),  # PATCH deploy
    ],
    "appsignal_markers": [("GetItem", [TOKEN_KEY], {}), ("PutItem", [PROJECT_KEY], {})],
    "appsignal_query": [
        ("GetItem", [TOKEN_KEY, PROJECT_KEY, *RECORD_KEYS], {}),
        ("Query", [PROJECT_KEY], {}),
        ("PutItem", [PROJECT_KEY], {}),  # POST markers.json
        ("UpdateItem", [PROJECT_KEY], {"return_values": "ALL_NEW"}),  # PUT markers/{id}.json
        ("DeleteItem", [PROJECT_KEY], {"return_values": "ALL_OLD"}),  # DELETE markers/{id}.json
    ],
    "console": [
        ("GetItem", [TOKEN_KEY, PROJECT_KEY, CONSOLE_KEY, *RECORD_KEYS], {}),
        ("PutItem", [TOKEN_KEY, SECRET_KEY, PROJECT_KEY, CONSOLE_KEY], {}),
        ("UpdateItem", [PROJECT_KEY], {"return_values": "ALL_NEW"}),  # issue status, alert rules
        ("DeleteItem", [TOKEN_KEY, SECRET_KEY, PROJECT_KEY], {}),
    ],
    "alert_deliver": [
        ("GetItem", [PROJECT_KEY], {}),
        ("Query", [PROJECT_KEY], {}),  # the project's alert rules
        ("UpdateItem", [PROJECT_KEY], {}),  # delivery state, storm control
    ],
    "digest": [
        ("GetItem", [PROJECT_KEY], {}),  # the project's settings item (the flood limit, lodge.flood)
        ("PutItem", [PROJECT_KEY], {}),  # listing pages
        ("UpdateItem", [PROJECT_KEY], {"return_values": "ALL_NEW"}),  # issues, their marks
        ("UpdateItem", RECORD_KEYS, {"attributes": ("pk", "sk", "ttl")}),  # REMOVE ttl of a first occurrence
    ],
    "protocol_fallback": [],
}
ACTIONS = ("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem")


def test_every_function_has_its_key_uses_listed() -> None:
    assert sorted(USES) == sorted(FUNCTION_DIRS)


@pytest.mark.parametrize("directory", sorted(USES))
def test_leading_keys_admit_what_the_code_uses_and_nothing_else(directory: str) -> None:
    statements = _dynamodb_statements(BY_DIR[directory])
    used: dict[str, set[str]] = {action: set() for action in ACTIONS}
    for action, keys, extra in USES[directory]:
        for key in keys:
            call = iam.Call(f"dynamodb:{action}", (key,), **extra)
            assert iam.allows(statements, call), f"{directory} may not {action} {key} ({extra}), yet its code does"
            used[action].add(key)
    for action in ACTIONS:
        for kind, key in ALL_KEYS.items():
            if key in used[action] or (kind == "record" and set(RECORD_KEYS) & used[action]):
                continue
            if directory == CONSOLE and action in ("GetItem", "Query") and kind != "secret":
                continue  # the console reads whatever its signed-in project holds
            if directory == CONSOLE and action == "DeleteItem" and kind == "console key":
                continue  # one grant for its writes, as before issue 15 (it never deletes its key)
            call = iam.Call(f"dynamodb:{action}", (key,))
            assert not iam.allows(statements, call), f"{directory} may {action} a {kind} ({key}) it never uses"


@pytest.mark.parametrize(
    ("directory", "call"),
    [
        # the rate-limit grant is for the counter, not for anything else in an RL# item
        ("rollbar_item", iam.Call("dynamodb:UpdateItem", (RATE_KEY,), ("pk", "sk", "scopes"))),
        ("rollbar_item", iam.Call("dynamodb:UpdateItem", (RATE_KEY,), ("c", "pk", "sk"), "ALL_OLD")),
        ("rollbar_item", iam.Call("dynamodb:PutItem", (RECORD_KEYS[0],), return_values="ALL_OLD")),
        # client reports touch only `d:*` counters of the project partition, never an issue's count
        ("sentry_ingest", iam.Call("dynamodb:UpdateItem", (PROJECT_KEY,), ("cnt", "pk", "sk"))),
        ("sentry_ingest", iam.Call("dynamodb:UpdateItem", (PROJECT_KEY,), ("d:x:y", "pk", "sk"), "ALL_OLD")),
        # the flood count grant is `dr` only: never an issue's `cnt`, title or status
        ("rollbar_item", iam.Call("dynamodb:UpdateItem", (PROJECT_KEY,), ("cnt", "pk", "sk"))),
        ("appsignal_push", iam.Call("dynamodb:UpdateItem", (PROJECT_KEY,), ("dr", "pk", "sk", "st"))),
        ("crashlog_events", iam.Call("dynamodb:UpdateItem", (PROJECT_KEY,), ("dr", "pk", "sk"), "ALL_NEW")),
        ("sentry_ingest", iam.Call("dynamodb:UpdateItem", (RECORD_KEYS[0],), ("dr", "pk", "sk"))),
        # the digest may only drop a record's ttl
        ("digest", iam.Call("dynamodb:UpdateItem", (RECORD_KEYS[0],), ("ix", "pk", "sk"))),
        ("digest", iam.Call("dynamodb:UpdateItem", (RECORD_KEYS[0],), ("pk", "sk", "ttl"), "ALL_OLD")),
    ],
)
def test_attribute_and_return_value_conditions(directory: str, call: iam.Call) -> None:
    assert not iam.allows(_dynamodb_statements(BY_DIR[directory]), call)


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        ("PRJ#ab#f", "PRJ#*#?", True),
        ("PRJ#ab", "PRJ#*#?", False),
        ("PRJ#ab#ff", "PRJ#*#?", False),
        ("PRJ#ab", "PRJ#*", True),
        ("prj#ab", "PRJ#*", False),  # case-sensitive
        ("SEC#x", "TOK#*", False),
        ("LODGE#CONSOLE", "LODGE#CONSOLE", True),
        ("a.b", "a?b", True),
        ("a.b", "a.?", True),
        ("a+b", "a.b", False),  # no regular-expression meaning
    ],
)
def test_string_like(value: str, pattern: str, expected: bool) -> None:
    assert iam.string_like(value, pattern) is expected


# ---- end issue 15, point 9


# ---- issue 15, point 9: reserved concurrency as a cost guard; API access logs on by default -------
CONCURRENCY_GROUPS = {
    "IngestReservedConcurrency": INGEST,
    "DigestReservedConcurrency": {"digest"},
    "OtherReservedConcurrency": set(FUNCTION_DIRS) - INGEST - {"digest", "alert_deliver"},
}


@pytest.mark.parametrize("parameter", sorted(CONCURRENCY_GROUPS))
def test_reserved_concurrency_is_a_parameter_reserving_none_by_default(parameter: str) -> None:
    spec = TEMPLATE["Parameters"][parameter]
    assert spec["Type"] == "Number" and spec["Default"] == -1 and spec["MinValue"] == -1
    condition = parameter.replace("ReservedConcurrency", "ConcurrencyReserved")
    assert TEMPLATE["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, -1]}]}
    for directory in CONCURRENCY_GROUPS[parameter]:
        value = FUNCTIONS[BY_DIR[directory]]["Properties"]["ReservedConcurrentExecutions"]
        assert value == {"Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}, directory


def test_alert_delivery_is_capped_by_its_queue_not_by_reserved_concurrency() -> None:
    props = FUNCTIONS[BY_DIR["alert_deliver"]]["Properties"]
    assert "ReservedConcurrentExecutions" not in props
    assert props["Events"]["Alerts"]["Properties"]["ScalingConfig"]["MaximumConcurrency"] >= 2


ACCESS_LOG_VARIABLES = re.compile(r"\$context\.[A-Za-z.]+")
# Never: the query string (api_key=, access_token=, sentry_key= travel there), headers, bodies, the
# caller's identity beyond its address.
SAFE_ACCESS_LOG_VARIABLES = {
    "$context.requestId",
    "$context.identity.sourceIp",
    "$context.requestTime",
    "$context.routeKey",
    "$context.path",
    "$context.status",
    "$context.responseLength",
    "$context.responseLatency",
    "$context.integrationErrorMessage",
}


def _access_log_settings() -> dict[str, Any]:
    props = resources(TEMPLATE, "AWS::Serverless::HttpApi")["LodgeApi"]["Properties"]
    condition, enabled, disabled = props["AccessLogSettings"]["Fn::If"]
    assert condition == "AccessLogsEnabled" and disabled == {"Ref": "AWS::NoValue"}
    settings: dict[str, Any] = enabled
    return settings


def test_access_logs_are_on_by_default_with_retention() -> None:
    assert TEMPLATE["Parameters"]["AccessLogs"]["Default"] == "Enabled"
    assert TEMPLATE["Conditions"]["AccessLogsEnabled"] == {"Fn::Equals": [{"Ref": "AccessLogs"}, "Enabled"]}
    group = TEMPLATE["Resources"]["ApiAccessLogGroup"]
    assert group["Condition"] == "AccessLogsEnabled"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert _access_log_settings()["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}


def test_access_log_lines_are_json_without_query_strings_headers_or_bodies() -> None:
    line_format = _access_log_settings()["Format"]
    used = set(ACCESS_LOG_VARIABLES.findall(line_format))
    assert used == SAFE_ACCESS_LOG_VARIABLES, used ^ SAFE_ACCESS_LOG_VARIABLES
    assert "$input" not in line_format and "$request" not in line_format
    # A typical line, as docs/deploy.md prices it (CloudWatch Logs bills ingested bytes).
    sample = {
        "$context.requestId": "JZrQ3iJ2IAMEbvA=",
        "$context.identity.sourceIp": "203.0.113.10",
        "$context.requestTime": "01/Dec/2026:15:16:05 +0000",
        "$context.routeKey": "POST /api/1/item/{proxy+}",
        "$context.path": "/api/1/item/",
        "$context.status": "200",
        "$context.responseLength": "83",
        "$context.responseLatency": "21",
        "$context.integrationErrorMessage": "",
    }
    line = line_format
    for variable in sorted(sample, key=len, reverse=True):
        line = line.replace(variable, sample[variable])
    fields = json.loads(line)
    assert fields["path"] == "/api/1/item/" and "?" not in fields["path"]
    assert 200 <= len(line.encode()) <= 300, len(line.encode())  # 233 B, plus 26 B CloudWatch counts per event


# ---- end issue 15, point 9 (cost guards)


def test_functions_skip_pydantic_plugin_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lodge has no pydantic plugins: without the switch, the first model built at import scans
    every installed distribution's entry points (a few ms of every cold start, bench/)."""
    from pydantic.plugin import _loader

    value = GLOBALS["Environment"]["Variables"]["PYDANTIC_DISABLE_PLUGINS"]
    for resource in FUNCTIONS.values():  # no function turns discovery back on
        assert "PYDANTIC_DISABLE_PLUGINS" not in resource["Properties"].get("Environment", {}).get("Variables", {})

    def scan(**_: Any) -> Any:
        raise AssertionError("entry points scanned")

    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", str(value))
    monkeypatch.setattr(_loader, "_plugins", None)
    monkeypatch.setattr(_loader, "entry_points", scan)
    assert tuple(_loader.get_plugins()) == ()
