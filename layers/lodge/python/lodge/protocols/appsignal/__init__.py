"""appsignal adapter (package split in progress)."""
