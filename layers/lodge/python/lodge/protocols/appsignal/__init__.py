"""AppSignal (the `appsignal` Ruby gem 0.1-0.11, legacy push API v1) and AppSignal's public query API.

Wire facts: docs/protocols/appsignal.md. `wire` reads a push body (JSON, form-wrapped JSON, the
documented JSON repair) and the lenient values inside, `auth` checks the push api key, `mapping`
turns one transaction into the one `Occurrence`, `push` maps and slices a whole batch; `markers`
maps push and query-API markers onto `Marker` and renders them; `query` serves the samples API over
every protocol's stored occurrences. Nothing here imports another protocol's package.
"""
