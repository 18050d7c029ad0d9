"""Forecasts: on demand (:mod:`.predict`), recurring (:mod:`.provisioning`, :mod:`.scheduler`,
:mod:`.worker`), and their history (:mod:`.history`).

Recurring forecasts, in one picture::

    EventBridge rule (1 min) -> schedule_due()  --claim ticket + one message per slot-->  SQS
    SQS -> execute_forecast() --forecast--> Orion (forecastSeries) --subscription--> STH (history)

Contracts (the adapters implement the atomic parts):

* **Claim.** A job is due when its recurring forecasts are enabled and ``next_prediction_at <=
  now``. The scheduler claims the slot it computes for the job by inserting a ticket unique per
  ``(job, slot)``, so of several concurrent schedulers exactly one wins each slot. A tick writes
  no job document; the forecast run moves ``next_prediction_at`` past its slot when it ends
  (success or final failure). Until then later ticks still find the job due, compute the same
  slot and find its ticket taken.
* **Drift-free grid and catch-up.** See :func:`chronos_core.domain.forecasting.advance`: at most
  one forecast per job per tick, missed slots skipped, never replayed.
* **Enqueue failure.** When a message cannot be sent, its ticket is deleted, so the next tick
  claims the slot again; nothing is re-enqueued by the scheduler itself.
* **Idempotency per (job, slot).** A run is admitted once per ``(job, slot)`` while it runs, again
  after a failure, and never after a success, so a redelivered message does not publish twice.
* **Failures.** A failing run records ``last_forecast`` (status ``failed``, error, attempt) on the
  job and re-raises, so SQS redelivers it; after ``maxReceiveCount`` receives the queue moves it
  to the dead-letter queue. The attempt that will not be retried is marked ``final``.
"""
