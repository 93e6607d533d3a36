"""The local demo project: fixed, well-known credentials so events/*.json and README examples work
against `make dev` and `make invoke`. LOCAL ONLY - never create these in a deployed stack."""

from __future__ import annotations

DEMO_PROJECT_ID = "5114f7e38c5ce90000000011"
DEMO_PROJECT_NAME = "Demo"
DEMO_CREDENTIALS: dict[str, str] = {
    "rollbar_post_server_item": "demo0000000000000000000postserver",
    "rollbar_post_client_item": "demo0000000000000000000postclient",
    "rollbar_read": "demo0000000000000000000000000read",
    "rollbar_write": "demo000000000000000000000000write",
    "appsignal_push": "00000000-0000-4000-8000-00000000demo",
    "crashlog": "00000000-0000-4000-8000-0000crashlog",
    "crashlog_secret": "demo-crashlog-secret-local-only-000000000",
    "personal": "demo00000000000000000000personal",
    "sentry_dsn": "demo000000000000000000000sentry0",
}
