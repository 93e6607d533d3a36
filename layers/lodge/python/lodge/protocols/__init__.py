"""Protocol adapters: one package per wire protocol, each mapping its payloads onto `Occurrence` and
rendering read models back in its own shape. No protocol imports another protocol's package."""
