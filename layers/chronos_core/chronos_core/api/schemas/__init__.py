"""The HTTP API's request bodies and response models, one module per resource (requests reuse
the domain's input models where they exist; use-case results are returned as they are)."""
