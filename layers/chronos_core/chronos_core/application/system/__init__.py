"""Cross-cutting use cases of the API: authenticating callers and reporting health."""
