"""The Chronos trainer: one training job per process (AWS Batch) or per call (in-process)."""
