"""Anomaly scans: a trained job's served forecaster scores a window of the model's history.

Use cases: admission (:mod:`.admission`), control (cancel, retry: :mod:`.control`), queries
(:mod:`.queries`), the reconciler of scans whose execution ended unrecorded
(:mod:`.reconciliation`), and the steps of ``statemachines/anomaly_scan.asl.json`` in
:mod:`.pipeline`.
"""
