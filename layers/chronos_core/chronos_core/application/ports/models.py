"""Persistence of model definitions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chronos_core.domain.ids import ModelId
from chronos_core.domain.model import Model, ModelStatus, ModelType, ServingSummary


@dataclass(frozen=True)
class ModelFilter:
    """Exact-match filters for listing models; ``None`` means "any"."""

    model_type: ModelType | None = None
    status: ModelStatus | None = None
    entity_id: str | None = None
    feature: str | None = None
    services: frozenset[str] | None = None  # tenant restriction; None = all tenants


@dataclass(frozen=True)
class Page[T]:
    """One page of a listing, with the total number of matches across all pages."""

    items: list[T]
    total: int
    skip: int
    limit: int


class ModelRepository(Protocol):
    """Model definitions and the one-training-at-a-time claim."""

    def add(self, model: Model) -> None:
        """Insert a new model. Raises ConflictError if the id exists."""

    def get(self, model_id: ModelId) -> Model | None:
        """The model with this id, or None."""

    def list(self, filters: ModelFilter, skip: int, limit: int) -> Page[Model]:
        """Models matching ``filters``, newest first."""

    def replace_if_status(self, model: Model, expected_status: ModelStatus) -> bool:
        """Replace the stored model only while its status is ``expected_status``; True if replaced."""

    def delete(self, model_id: ModelId) -> bool:
        """Delete the model (and give back its claim); True if it existed."""

    def claim_for_training(self, model_id: ModelId) -> bool:
        """Atomically move the model to ``training`` unless it already is; True for exactly one
        of any number of concurrent callers (training starts and deletions share the claim)."""

    def claim_for_deletion(self, model_id: ModelId) -> bool:
        """Take the model's claim to delete it; False while a training is starting or runs."""

    def release_claim(self, model_id: ModelId) -> None:
        """Give back a claim taken for a deletion that did not happen."""

    def release_after_training(
        self, model_id: ModelId, *, succeeded: bool, serving: ServingSummary | None = None
    ) -> None:
        """Leave ``training``: ``trained`` after a success or an earlier success, else ``draft``;
        a success with ``serving`` records what the model serves (None: unchanged)."""

    def reset_training_state(self, model_id: ModelId, *, has_success: bool) -> None:
        """After jobs are deleted: ``trained`` only while a completed job remains."""

    def get_many(self, model_ids: Sequence[ModelId]) -> Sequence[Model]:
        """The models among ``model_ids`` that exist, in one storage call."""

    def get_batch(self, model_ids: Sequence[ModelId]) -> Sequence[Model]:
        """:meth:`get_many` for the few models of one forecast batch, as concurrent point reads
        by id (see ``TrainingJobRepository.get_batch``)."""

    def set_champion(
        self,
        model_id: ModelId,
        serving: ServingSummary | None,
        *,
        previous_champions: Sequence[str],
        pinned: bool,
        expected: str | None,
    ) -> bool:
        """Make ``serving`` the model's champion with ``previous_champions`` and ``pinned``, if
        its champion is still ``expected`` (compare and set); True if changed."""

    def next_version(self, model_id: ModelId) -> int:
        """Count one more completed training of the model and return the count (its version)."""
