"""The ports the use cases depend on, one module per family. Adapters (and the forecasting
library) implement them; tests pass the in-memory fakes of ``tests/support/fakes.py``."""
