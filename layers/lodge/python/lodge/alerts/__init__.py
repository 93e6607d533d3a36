"""Alerts: decide at the counting write, hand off durably, deliver elsewhere (docs/alerts.md).

The write that counts an occurrence into its issue knows whether the issue is new, regressed or
crossed a power of ten; `decide` turns that into alerts with deterministic ids, `handoff` puts
them on the alert queue, and the `alert_deliver` function matches them against each project's
rules and delivers them with retries and storm control (`deliver`).
"""
