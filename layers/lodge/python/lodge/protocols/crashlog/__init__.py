"""CrashLog "stdin" protocol (the Ruby gem, the Node client, the Java appender): `/events`, `/announce`, `/locate`.

Wire facts: docs/protocols/crashlog.md. `auth` checks the HMAC signature of every request,
`payload` reads the signed body, `mapping` turns an event into the one `Occurrence`, `announce`
turns an announce into a `Marker`, `locate` answers where a reported event can be seen. Only
`mapping` imports the pydantic model: /announce and /locate stay light. Nothing here imports
another protocol's package.
"""
