"""Model monitoring and alerts: live metrics, rules with a state machine, alerts, and
notifications that are retried, recorded and published into FIWARE.

    EventBridge (1 min) -> evaluate_due()  --claim per (rule, slot)-->  measure -> step ->
        alert events + notifications  -->  SQS (+ DLQ)  -->  deliver_notification()  -->
        webhook (HMAC) | SNS | Orion (Smart Data Models Alert)
    forecast published (execute_forecast) -> after_forecast() -> predicted-crossing rules

Modules: :mod:`.rules`, :mod:`.channels`, :mod:`.silences`, :mod:`.alerts` (the API's use cases),
:mod:`.metrics` (one measurement per rule type), :mod:`.evaluation` (the tick and the state
machine's effects), :mod:`.hooks` (after a published forecast), :mod:`.dispatch` (creating and
queueing notifications), :mod:`.delivery` (one attempt, retries, channel health).
"""
