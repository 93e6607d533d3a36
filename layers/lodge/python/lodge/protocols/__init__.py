"""Protocol adapters: one module per wire protocol, each mapping its payloads onto `Occurrence`."""
