"""A kept challenger raises an informational alert on the model's tenant channels (the same
notifications, queue and deliverer as rule alerts); a later kept challenger replaces it, a
promotion resolves it and tells the channels that heard of it; a failing listener never undoes
the champion decision."""

from __future__ import annotations

from typing import Any

from chronos_core.application.monitoring.model_events import CHALLENGER_KEPT_RULE
from chronos_core.application.retraining.commands import PutPolicy
from chronos_core.application.retraining.policies import put_policy
from chronos_core.application.retraining.promotion import settle_challenger
from chronos_core.bootstrap import Services
from chronos_core.domain.ids import JobId, ModelId
from chronos_core.domain.model import ModelStatus
from chronos_core.domain.monitoring import AlertStatus, Severity
from chronos_core.domain.notifications import NotificationStatus
from chronos_core.domain.retraining import HoldoutComparison, RetrainingPolicy
from chronos_core.domain.training_job import TrainingStatus
from tests.support.builders import ARTIFACTS, T0, model, principal, trained_job
from tests.support.builders import job as build_job
from tests.support.fakes import (
    InMemoryChannelStore,
    InMemoryModelRepository,
    InMemoryTrainingJobs,
    fake_services,
)
from tests.support.monitoring import deliver_all, webhook_channel

MODEL = ModelId("model-1")


def world(*channels: Any, **overrides: Any) -> Services:
    champion = trained_job("champ", "model-1", created_at=T0, points_available=1200)
    served = model("model-1", ModelStatus.TRAINED).model_copy(
        update={"serving": champion.serving_summary(), "has_successful_training": True}
    )
    services = fake_services(
        models=InMemoryModelRepository(served),
        jobs=InMemoryTrainingJobs(champion),
        channels=InMemoryChannelStore(*channels),
        **overrides,
    )
    put_policy(
        services,
        PutPolicy(principal=principal(), model_id=MODEL, policy=RetrainingPolicy(promotion_margin=0.1)),
    )
    return services


def challenger(services: Services, job_id: str, mae: float) -> Any:
    job = build_job(
        job_id,
        status=TrainingStatus.TRAINING,
        artifacts=ARTIFACTS,
        serving="network",
        comparison=HoldoutComparison(
            champion_job_id=services.models.get(MODEL).champion_job_id,  # type: ignore[union-attr,arg-type]
            challenger_mae=mae,
            champion_mae=1.0,
            windows=30,
        ),
    )
    services.jobs.add(job)
    return job


def alerts(services: Services) -> list[Any]:
    return sorted(services.alerts.alerts.values(), key=lambda a: a.started_at)  # type: ignore[attr-defined]


def notifications(services: Services) -> list[Any]:
    return sorted(services.notifications.notifications.values(), key=lambda n: n.created_at)  # type: ignore[attr-defined]


def test_a_kept_challenger_is_an_informational_alert_on_the_tenants_channels() -> None:
    ops, other_tenant = webhook_channel("ops"), webhook_channel("elsewhere", service="water")
    services = world(ops, other_tenant)
    assert not settle_challenger(services, challenger(services, "chall", 1.3)).promoted
    [alert] = alerts(services)
    assert alert.rule_type == CHALLENGER_KEPT_RULE and alert.rule_id is None
    assert alert.severity == Severity.INFORMATIONAL and alert.status == AlertStatus.FIRING
    assert alert.model_id == MODEL and alert.job_id == "chall" and alert.fiware_service == "energy"
    assert "stays a challenger" in alert.message and "the champion stays" in alert.message
    assert alert.values == {
        "event": "challenger_kept",
        "challenger_job_id": "chall",
        "champion_job_id": "champ",
    }
    [sent] = notifications(services)  # the tenant's channel only
    assert (
        sent.channel_id == ops.id
        and sent.kind == "firing"
        and sent.payload["alert"]["severity"] == "informational"
    )
    assert services.notification_queue.sent == [sent.id]  # type: ignore[attr-defined]
    [delivered] = deliver_all(services)
    assert delivered.action == "delivered"
    assert services.notifications.get(sent.id).status == NotificationStatus.DELIVERED  # type: ignore[union-attr]
    assert [e.to_state.value for e in services.alerts.events(alert_id=alert.id).items] == ["firing"]


def test_a_later_kept_challenger_replaces_the_alert_and_a_promotion_resolves_it() -> None:
    ops = webhook_channel("ops")
    services = world(ops)
    settle_challenger(services, challenger(services, "first", 1.2))
    deliver_all(services)
    settle_challenger(services, challenger(services, "second", 1.1))
    first, second = alerts(services)
    assert first.job_id == "first" and first.status == AlertStatus.RESOLVED
    assert second.job_id == "second" and second.status == AlertStatus.FIRING
    assert [n.kind for n in notifications(services)] == ["firing", "firing"]  # replaced quietly
    deliver_all(services)
    assert settle_challenger(services, challenger(services, "better", 0.5)).promoted
    assert all(a.status == AlertStatus.RESOLVED for a in alerts(services))
    assert [n.kind for n in notifications(services)] == ["firing", "firing", "resolved"]
    assert notifications(services)[-1].alert_id == second.id


def test_without_channels_the_alert_is_still_listed_and_a_failing_listener_changes_nothing() -> None:
    services = world()
    settle_challenger(services, challenger(services, "chall", 1.3))
    [alert] = alerts(services)
    assert alert.channels == [] and notifications(services) == []

    class Broken:
        def model_event(self, *args: Any) -> None:
            raise RuntimeError("monitoring is down")

    broken = world(model_event_listeners=[Broken()])
    verdict = settle_challenger(broken, challenger(broken, "chall", 1.3))
    assert not verdict.promoted
    assert broken.jobs.get(JobId("chall")).promotion == verdict  # type: ignore[union-attr]
    assert [e.kind for e in broken.events.list_for_model(MODEL, 0, 10).items] == ["challenger_kept"]
