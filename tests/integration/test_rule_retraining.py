"""Rule triggers on FerretDB: a drift rule that starts firing retrains the model through the
real stores (rules, states, alerts, the retraining log, the training lease), and the same firing
asked for by concurrent callers is one run and one training."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from pymongo.database import Database

from chronos_core.adapters.mongo import (
    Document,
    MongoLeases,
    MongoModelEvents,
    MongoModelRepository,
    MongoRetrainingPolicies,
    MongoRetrainingRuns,
    MongoTrainingJobRepository,
)
from chronos_core.adapters.mongo.alert_rules import MongoAlertRules, MongoEvaluationLog, MongoRuleStates
from chronos_core.adapters.mongo.alerts import MongoAlertStore, MongoSilenceStore
from chronos_core.application.ports.retraining import RuleFiring
from chronos_core.application.retraining.commands import PutPolicy
from chronos_core.application.retraining.policies import put_policy
from chronos_core.domain.ids import ModelId
from chronos_core.domain.retraining import RetrainingPolicy, TriggerKind
from tests.support.builders import T0, data_quality, principal
from tests.support.fakes import FakeObservedSeries, FakeSeriesSource, fake_services
from tests.support.monitoring import ENTITY, monitored_job, rule_of, served_model, tick

pytestmark = pytest.mark.integration

HALF_HOUR = timedelta(minutes=30)
MODEL = ModelId("model-1")


def test_a_firing_drift_rule_retrains_once_through_the_real_stores(mongo_db: Database[Document]) -> None:
    reference = [(T0 - (223 - i) * HALF_HOUR, 10.0 + (i % 7) * 0.5) for i in range(200)]
    shifted = [(T0 - (23 - i) * HALF_HOUR, 30.0 + (i % 7) * 0.5) for i in range(24)]
    quality = data_quality(points=200, interval=1800.0).model_copy(
        update={"last_timestamp": reference[-1][0]}
    )
    models, jobs = MongoModelRepository(mongo_db), MongoTrainingJobRepository(mongo_db)
    models.add(served_model())
    jobs.add(monitored_job(data_quality=quality))
    rule = rule_of("input_drift", {"normalization": "level", "window": 24, "test": "ks"})
    services = fake_services(
        models=models,
        jobs=jobs,
        leases=MongoLeases(mongo_db),
        policies=MongoRetrainingPolicies(mongo_db),
        runs=MongoRetrainingRuns(mongo_db),
        events=MongoModelEvents(mongo_db),
        alert_rules=MongoAlertRules(mongo_db),
        rule_states=MongoRuleStates(mongo_db),
        alert_evaluations=MongoEvaluationLog(mongo_db),
        alerts=MongoAlertStore(mongo_db),
        silences=MongoSilenceStore(mongo_db),
        observed_series=FakeObservedSeries({ENTITY: reference + shifted}),
        series=FakeSeriesSource({ENTITY: reference + shifted}),
    )
    services.alert_rules.add(rule)
    put_policy(
        services,
        PutPolicy(principal=principal(), model_id=MODEL, policy=RetrainingPolicy(trigger_rules=[rule.id])),
    )

    result = tick(services, T0)
    assert result.firing == 1 and result.retrain_requests == 1
    [run] = services.runs.list_for_model(MODEL, 0, 10).items
    assert run.kind == TriggerKind.RULE and run.outcome == "started" and run.rule_id == rule.id
    job = services.jobs.get(run.job_id)  # type: ignore[arg-type]
    assert job is not None and [t.kind for t in job.triggers] == [TriggerKind.RULE]

    # the same firing delivered again, by concurrent callers: the run already recorded answers
    firing = RuleFiring(
        model_id=MODEL, rule_id=rule.id, reason="again", at=T0, event_id=run.key.split("|")[-1]
    )
    with ThreadPoolExecutor(max_workers=4) as pool:
        again = list(pool.map(lambda _: services.retrain_trigger.trigger(firing), range(4)))
    assert {r.key for r in again} == {run.key} and {r.job_id for r in again} == {run.job_id}
    assert services.runs.list_for_model(MODEL, 0, 10).total == 1
    assert len(services.workflow.started) == 1  # type: ignore[attr-defined]
