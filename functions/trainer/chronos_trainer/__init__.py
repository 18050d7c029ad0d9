"""The Chronos trainer: one training job per process (AWS Batch, or the local trainer process).

This module holds only the process contract, so that the local runner can read it without
importing the training code: the command the Batch job definition runs and the exit codes.
"""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
#: The input was rejected (too little data, bad configuration): retrying cannot help.
EXIT_REJECTED: Final = 2
EXIT_CANCELLED: Final = 3
#: A dependency (MongoDB, S3) could not be reached: worth retrying once it is back.
EXIT_UNAVAILABLE: Final = 4

#: The AWS Batch job definition's command (``template.yaml``), ``Ref::`` parameters included.
BATCH_COMMAND: Final = (
    "python",
    "-m",
    "chronos_trainer",
    "--job-id",
    "Ref::job_id",
    "--dataset-key",
    "Ref::dataset_key",
)
