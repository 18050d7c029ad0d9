"""Commands of the model use cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from chronos_core.application.ports.models import ModelFilter
from chronos_core.domain.auth import Principal
from chronos_core.domain.ids import ModelId
from chronos_core.domain.model import ModelChanges, ModelDraft, utcnow


@dataclass(frozen=True, kw_only=True)
class CreateModel:
    principal: Principal
    draft: ModelDraft


@dataclass(frozen=True, kw_only=True)
class GetModel:
    principal: Principal
    model_id: ModelId


@dataclass(frozen=True, kw_only=True)
class ListModels:
    principal: Principal
    filters: ModelFilter
    skip: int = 0
    limit: int = 100


@dataclass(frozen=True, kw_only=True)
class UpdateModel:
    principal: Principal
    model_id: ModelId
    changes: ModelChanges


@dataclass(frozen=True, kw_only=True)
class DeleteModel:
    principal: Principal
    model_id: ModelId


@dataclass(frozen=True, kw_only=True)
class ReadDataFreshness:
    principal: Principal
    model_id: ModelId
    #: The instant the age is measured at (UTC).
    now: datetime = field(default_factory=utcnow)
