"""The IoT Agent app: error rendering, ``/iot/about`` (also ``/version``), ``/ready`` and the
resource routers. An unknown route answers 404 ``{"name": "NOT_FOUND", "message": "Route not found"}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from local.fiware_sandbox.common import SandboxState
from local.fiware_sandbox.iot_agent import devices, groups
from local.fiware_sandbox.iot_agent.checks import LIB_VERSION, VERSION, IotaError
from local.fiware_sandbox.iot_agent.deps import Context, IotaContext
from local.fiware_sandbox.iot_agent.store import DeviceStore, GroupStore

about_router = APIRouter()


def about(ctx: Context) -> dict[str, Any]:
    """The agent's about document; ``port`` is the sandbox's IoT Agent port (4041 when unknown)."""
    return {
        "libVersion": LIB_VERSION,
        "port": ctx.state.ports.get("iota", 4041),
        "baseRoot": "/",
        "version": VERSION,
    }


def ready() -> dict[str, Any]:
    """``/ready``: an empty object."""
    return {}


about_router.add_api_route("/iot/about", about, methods=["GET"])
about_router.add_api_route("/version", about, methods=["GET"])
about_router.add_api_route("/ready", ready, methods=["GET"])


async def iota_error(_request: Request, exc: IotaError) -> JSONResponse:
    """Render an :class:`IotaError` as ``{name, message}`` with its status."""
    return JSONResponse({"name": exc.name, "message": exc.message}, status_code=exc.status)


async def not_found(_request: Request, _exc: Exception) -> JSONResponse:
    """An unknown route: 404 ``NOT_FOUND``."""
    return JSONResponse({"name": "NOT_FOUND", "message": "Route not found"}, status_code=404)


def build_app(state: SandboxState) -> FastAPI:
    """The IoT Agent (north port) app over the database of ``state``."""
    app = FastAPI(title="IoT Agent sandbox", openapi_url=None, docs_url=None, redoc_url=None)
    app.exception_handler(IotaError)(iota_error)
    app.exception_handler(404)(not_found)
    app.state.iota = IotaContext(state=state, groups=GroupStore(state.db), devices=DeviceStore(state.db))
    for router in (about_router, groups.router, devices.router):
        app.include_router(router)
    return app
