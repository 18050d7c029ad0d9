"""The anomaly scan's steps, one per state of ``statemachines/anomaly_scan.asl.json``:
plan → score (one per Map item; a chunk that fails records itself) → combine → publish, and the
failure step every state catches into.

As the training pipeline's steps, every step takes ids (and the chunk it works on), never bulk
data, and may run twice with the same input: a scored chunk's checkpoint is written once and
skipped when present, the findings are replaced as a whole, Orion entities are upserted, and
every write is conditional on the scan still running (a cancelled scan stays cancelled).
"""
