"""Lodge's web console: server-rendered pages over the signed-in project's issues and occurrences.

`app` routes requests and renders pages, `session` signs cookies and CSRF tokens, and `data` is the
only module that touches storage.
"""
