"""``ordermesh serve`` (API, dashboard and, by default, the worker) and ``ordermesh worker``."""

from __future__ import annotations

import logging
import os
import signal
import threading
from types import FrameType

import typer

from ordermesh.cli.common import display_url, err, migrated_container, out, state

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines come with every readiness check


def serve(
    host: str | None = typer.Option(None, "--host", help="Address to bind (default: ORDERMESH_HOST, 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="Port (default: ORDERMESH_PORT, 8000)."),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="Do not run the outbox worker here (run 'ordermesh worker' separately)."
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, help="API processes (each a separate process; one per core is a good start)."
    ),
    log_level: str | None = typer.Option(None, "--log-level", help="debug, info, warning or error."),
) -> None:
    """Serve the API and the dashboard.

    Refuses to start while the database's migrations are behind the code. With --workers N the API
    runs in N processes and the outbox worker (unless --no-worker) in this parent process, once.
    """
    settings = state().settings
    migrated_container()  # refuses a database that is behind, before anything starts
    state().close()
    import uvicorn

    from ordermesh.api.app import create_app

    bind_host = host or settings.host
    bind_port = settings.port if port is None else port
    level = (log_level or settings.log_level).lower()
    _logging(level)
    err().print(
        f"ordermesh on http://{bind_host}:{bind_port} (database {display_url(settings.database_url)}, "
        f"{workers} API process(es), worker {'elsewhere' if no_worker else 'in this process'})"
    )
    if workers == 1:
        uvicorn.run(
            create_app(settings, run_worker=not no_worker, settle=True), host=bind_host, port=bind_port, log_level=level
        )
        return
    # The API processes build their own settings from the environment: hand the effective database
    # URL down, and keep the worker out of them; it runs once, in this process.
    os.environ["ORDERMESH_DATABASE_URL"] = settings.database_url
    os.environ["ORDERMESH_RUN_WORKER"] = "0"
    background = None
    if not no_worker:
        from ordermesh.worker.main import start_in_thread

        background = start_in_thread(state().container())
    try:
        uvicorn.run(
            "ordermesh.api.app:app_factory",
            factory=True,
            host=bind_host,
            port=bind_port,
            workers=workers,
            log_level=level,
        )
    finally:
        if background:
            thread, stop = background
            stop.set()
            thread.join(timeout=10)


def worker(
    once: bool = typer.Option(False, "--once", help="Process one batch of events, print how many, and exit."),
    only: list[str] = typer.Option(
        [],
        "--only",
        help="Run only this periodic job (repeat for several), and take no events: e.g. a worker "
        "dedicated to queued webhooks, --only channel_inbox, beside workers that do the rest.",
    ),
) -> None:
    """Run the outbox worker until SIGINT or SIGTERM: it delivers events and retries failures."""
    from ordermesh.bootstrap import settle_heap
    from ordermesh.worker.main import Worker

    container = migrated_container()
    try:
        runner = Worker(container, only=only or None)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--only") from None
    if once:
        out().print(f"processed {runner.run_once()} event(s)")
        return
    _logging(container.settings.log_level)
    settle_heap()
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("ordermesh.worker").info("%s received; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    runner.run(stop)
