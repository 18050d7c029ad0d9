"""What the model use cases depend on."""

from __future__ import annotations

from typing import Protocol

from chronos_core.application.ports.models import ModelRepository


class ModelsDeps(Protocol):
    @property
    def models(self) -> ModelRepository: ...
