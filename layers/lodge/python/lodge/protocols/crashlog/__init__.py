"""crashlog adapter (package split in progress)."""
