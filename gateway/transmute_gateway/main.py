"""Entry point: ``transmute-gateway`` (or ``python -m transmute_gateway``)."""

from __future__ import annotations

import uvicorn

from transmute_common.logging import setup_logging
from transmute_common.metrics import setup_metrics, shutdown_metrics
from transmute_common.tracing import setup_tracing, shutdown_tracing
from transmute_gateway.app import create_app
from transmute_gateway.config import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    setup_logging("gateway")
    setup_tracing("transmute-gateway")
    setup_metrics("transmute-gateway")
    config = uvicorn.Config(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        http="httptools",
        loop="uvloop",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass  # uvicorn has shut down gracefully already
    finally:
        shutdown_metrics()
        shutdown_tracing()


if __name__ == "__main__":
    main()
