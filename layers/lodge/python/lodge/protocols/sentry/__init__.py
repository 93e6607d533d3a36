"""Sentry SDKs (sentry-python, @sentry/node, @sentry/browser, ...): envelope and legacy store endpoints.

`POST /api/{project}/envelope/` and `POST /api/{project}/store/` as Relay serves them
(docs/protocols/sentry.md has the wire facts): `auth` finds the DSN public key, `envelope` splits
the body into items, `mapping` turns an event into the one `Occurrence`, `answers` shapes Relay's
responses, `outcomes` records what SDKs report they dropped, and `ingest` ties them together.
"""
