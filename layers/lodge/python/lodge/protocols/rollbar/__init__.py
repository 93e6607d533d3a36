"""rollbar adapter (package split in progress)."""
