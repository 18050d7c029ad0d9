"""The training pipeline's steps, one per state of ``statemachines/training.asl.json``:
plan → collect (one per Map item) → prepare → train → finalize, and the failure step every state
catches into.

Every step takes ids (and S3 keys), never bulk data, and may run twice with the same input:
checkpoints are written once per chunk and skipped when present, counters are idempotent, and
every job update is conditional on the job still running (a cancelled job stays cancelled).
"""
