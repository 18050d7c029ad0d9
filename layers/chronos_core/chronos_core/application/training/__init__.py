"""Training jobs: admission, control (cancel, retry), reading, removal, and the pipeline steps the
state machine runs (:mod:`chronos_core.application.training.pipeline`)."""
