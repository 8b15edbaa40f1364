"""New-order throughput over HTTP: ``POST /api/v1/orders`` against ``ordermesh serve`` (uvicorn, one
API process per core, PostgreSQL), beside the raw-SQL baseline of the same writes in the same run.

    .venv/bin/python bench/http_bench.py [--seconds 5] [--clients 1,8] [--workers 2]

Each order is the payload of bench/orders_bench.py (3 lines over 10,000 SKUs, prepaid, unique
external id and phone). Clients are separate processes, each with one keep-alive connection
(Python's http.client: the lightest client there is, so the figure is the server's). The server
runs with --no-worker, as in production where workers run separately; the client processes share
the machine's cores with it, as they do with the database in the raw baseline.

Medusa v2 on the same kind of machine completes about 2 orders/s (shared/design/PERFORMANCE.md,
1 and 8 clients); it is not installed here, so that figure is quoted, not measured in this run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from common import (
    ClientSpec,
    Fixture,
    Place,
    cpu_per_order,
    open_database,
    pg_problem,
    run_clients,
    setup_tenant,
    throughput,
)
from ordermesh.bootstrap import bootstrap
from ordermesh.config import Settings
from ordermesh.services import platform
from orders_bench import WARMUP, order_counts, order_payload, raw_factory

MEDUSA_ORDERS_PER_S = 2.0  # shared/design/PERFORMANCE.md: Medusa 2.21, same machine class, 1 and 8 clients
TARGET_VS_RAW = 0.25
TARGET_VS_MEDUSA = 100
ORDERMESH = Path(sys.executable).with_name("ordermesh")


def http_factory(port: int, key: str, fx: Fixture) -> Place:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    codes = fx.sku_codes
    placed_at = datetime.now(UTC).isoformat()

    def place(reference: str, picks: list[int]) -> bool:
        body = order_payload(reference, [codes[i] for i in picks], placed_at)
        conn.request("POST", "/api/v1/orders", json.dumps(body), headers)
        response = conn.getresponse()
        text = response.read()
        if response.status != 201:
            raise RuntimeError(f"POST /api/v1/orders answered {response.status}: {text[:300]!r}")
        return True

    return place


class Loopback:
    """A keep-alive HTTP/1.1 client for load on loopback: a request goes out as one prebuilt
    ``sendall``, and of the answer only the status line and Content-Length are read. Python's
    http.client parses every answer's headers with the email package, which costs the client
    processes (which share the machine's two cores with the server) about as much as the light
    webhook endpoints cost the server itself. Answers without a Content-Length are refused."""

    def __init__(self, port: int, timeout: float = 60):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pending = b""

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n{head}\r\n"
        self.sock.sendall(request.encode("latin-1") + body)
        data = self.pending
        while (end := data.find(b"\r\n\r\n")) < 0:
            data += self._more()
        status_line, _, fields = data[:end].partition(b"\r\n")
        length = next(
            (int(f.split(b":", 1)[1]) for f in fields.split(b"\r\n") if f[:15].lower() == b"content-length:"), None
        )
        if length is None:
            raise RuntimeError(f"POST {path}: an answer without Content-Length: {data[:300]!r}")
        start = end + 4
        while len(data) < start + length:
            data += self._more()
        self.pending = data[start + length :]
        return int(status_line.split(b" ", 2)[1]), data[start : start + length]

    def _more(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        return chunk


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api_key(url: str, tenant_id: int) -> str:
    c = bootstrap(Settings(database_url=url))
    try:
        with c.uow(tenant_id=None) as uow:
            code = uow.tenants.by_id(tenant_id).code  # type: ignore[union-attr]
        with c.uow(tenant_id=None) as uow:
            return platform.create_api_key(uow, tenant=code, role="ops", name="http bench").key
    finally:
        c.close()


def start_server(url: str, port: int, workers: int, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ORDERMESH_DATABASE_URL": url, **(extra_env or {})}
    cmd = [str(ORDERMESH), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen([*cmd, "--no-worker", "--log-level", "warning"], env=env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ordermesh serve exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("ordermesh serve did not become ready within 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """End the server we started (its process group: uvicorn's worker processes too)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def measure(clients_list: list[int], seconds: float, workers: int) -> list[tuple[str, ...]]:
    db = open_database("postgresql")
    rows = []
    try:
        run_no = 0
        for clients in clients_list:
            rates: dict[str, float] = {}
            for name in ("raw", "http"):
                run_no += 1
                fx = setup_tenant(db, "http")  # a fresh tenant per run: no order history at the pincode
                before = order_counts(db, fx.tenant_id)
                spec = ClientSpec(fx, WARMUP, seconds, str(run_no))
                if name == "raw":
                    results = run_clients(raw_factory, spec, clients)
                else:
                    port = free_port()
                    server = start_server(fx.url, port, workers)
                    try:
                        results = run_clients(partial(http_factory, port, api_key(fx.url, fx.tenant_id)), spec, clients)
                    finally:
                        stop_server(server)
                after = order_counts(db, fx.tenant_id)
                allocated = after.get("allocated", 0) - before.get("allocated", 0)
                if after["oversold_balances"] or allocated != sum(r.placed for r in results):
                    raise AssertionError(f"{name}, {clients} clients: {allocated} allocated, {after}")
                rates[name] = throughput(results, seconds)
                client_ms, _ = cpu_per_order(results)
                print(f"  {clients} client(s) {name:4s}: {rates[name]:8.0f} orders/s (client CPU/order {client_ms:.2f} ms)",
                      flush=True)  # fmt: skip
            ratio = rates["http"] / rates["raw"] if rates["raw"] else 0.0
            vs_medusa = rates["http"] / MEDUSA_ORDERS_PER_S
            verdict = ""
            if clients == 8:
                ok = ratio >= TARGET_VS_RAW and vs_medusa >= TARGET_VS_MEDUSA
                verdict = f">= {TARGET_VS_RAW:.2f} and >= {TARGET_VS_MEDUSA}x: " + ("OK" if ok else "MISSED")
            rows.append(
                (
                    str(clients),
                    f"{rates['raw']:.0f}",
                    f"{rates['http']:.0f}",
                    f"{ratio:.3f}",
                    f"{vs_medusa:.0f}x",
                    verdict,
                )
            )
    finally:
        db.drop()
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", default="1,8")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="API processes (default: one per core)")
    args = ap.parse_args()
    problem = pg_problem()
    if problem:
        print(f"skipping the HTTP benchmark: {problem}")
        return 0
    clients = [int(x) for x in args.clients.split(",") if x]
    rows = measure(clients, args.seconds, args.workers)
    from orders_bench import table

    print(f"\nNew orders over HTTP (PostgreSQL, {args.workers} API processes), {args.seconds:g} s per run")
    print(table(("clients", "raw SQL orders/s", "HTTP orders/s", "HTTP/raw", "vs Medusa (2/s)", "target"), rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
