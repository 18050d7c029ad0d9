"""The FastAPI dependency handing the IoT Agent routers what
:func:`~local.fiware_sandbox.iot_agent.app.build_app` put on ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from local.fiware_sandbox.common import SandboxState
from local.fiware_sandbox.iot_agent.store import DeviceStore, GroupStore


@dataclass(frozen=True)
class IotaContext:
    """What one IoT Agent app serves from (``app.state.iota``): the sandbox state and the stores."""

    state: SandboxState
    groups: GroupStore
    devices: DeviceStore


async def context_of(request: Request) -> IotaContext:
    """The :class:`IotaContext` of the app serving ``request``."""
    context: IotaContext = request.app.state.iota
    return context


#: Route parameter type: ``ctx: Context`` receives the app's :class:`IotaContext`.
Context = Annotated[IotaContext, Depends(context_of)]
