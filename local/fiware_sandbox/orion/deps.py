"""The FastAPI dependency handing the Orion routers what
:func:`~local.fiware_sandbox.orion.app.build_app` put on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from local.fiware_sandbox.common import SandboxState
from local.fiware_sandbox.orion.notifier import Notifier
from local.fiware_sandbox.orion.store import EntityStore, SubscriptionStore


@dataclass(frozen=True)
class OrionContext:
    """What one Orion app serves from (``app.state.orion``): the sandbox state, the stores and the
    notifier the entity writes feed."""

    state: SandboxState
    entities: EntityStore
    subscriptions: SubscriptionStore
    notifier: Notifier


async def context_of(request: Request) -> OrionContext:
    """The :class:`OrionContext` of the app serving ``request``."""
    context: OrionContext = request.app.state.orion
    return context


#: Route parameter type: ``ctx: Context`` receives the app's :class:`OrionContext`.
Context = Annotated[OrionContext, Depends(context_of)]
