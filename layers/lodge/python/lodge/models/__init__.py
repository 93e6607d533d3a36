"""Read models: what storage gives back to queries and renderers (issues, listings, markers, projects,
credentials). The detail of one occurrence is the `lodge.occurrence.Occurrence` model's JSON form.

Typed named tuples, not pydantic and not dataclasses: functions import these at cold start and they
must stay cheap (seven slotted dataclasses took ~15 ms to define). One module per kind, so a function
loads only the models it uses (the ingest functions: `credentials`). Immutable: a changed copy is
`_replace(...)`. Field names are the model's own words; the abbreviations storage uses for them live
only in `lodge.storage`.
"""
