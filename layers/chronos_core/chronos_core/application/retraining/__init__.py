"""Retraining: a model keeps itself fresh, and a retrained model replaces the one in service
only when it is better.

* :mod:`.policies`: ``PUT/GET/DELETE /models/{id}/retraining-policy`` and the schedule preview.
* :mod:`.triggers`: one trigger (cron, rule, manual) through the model's single training lease:
  attached to the training that runs or waits, or let through the policy's guards into the
  training queue, or recorded ``skipped`` with the reason.
* :mod:`.scheduler`: the tick (EventBridge, every minute) that fires every policy's due time
  once, missed times coalesced, claimed per fire time.
* :mod:`.rule_trigger`: the :class:`~chronos_core.application.ports.retraining.RetrainTrigger`
  monitoring calls.
* :mod:`.promotion`: champion or challenger, decided when a training completes.
* :mod:`.champion`: reading, pinning and rolling back the champion.
"""
