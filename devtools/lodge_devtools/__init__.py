"""Lodge's developer tooling: the Docker-less local runner, its `sam local invoke` twin, the
admin CLI and AWS emulation helpers. Never shipped in the Lambda layer."""
