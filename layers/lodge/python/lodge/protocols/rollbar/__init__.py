"""Rollbar (pyrollbar, rollbar.js, rollbar-gem, ...): the item API, the read API, deploys and triage.

Wire facts: docs/protocols/rollbar.md. `item` decodes a `POST /api/1/item/` request, `auth` finds
and checks its access token (and every other endpoint's), `mapping` turns its `data` into the one
`Occurrence`, `answers` shapes Rollbar's envelopes; `objects` renders read models back as Rollbar's
item and instance objects for `read_api` (items, instances) and `triage` (`PATCH /api/1/item/{id}`);
`deploys` maps deploys onto markers. Nothing here imports another protocol's package.
"""
