"""REST: `POST /api/mechanics/availability/slots` at 16 concurrent clients vs the SQL function called directly.

The API runs as in production: uvicorn (one process) serving api.app:create_app on 127.0.0.1 and a free
port, connected over TCP as autodoc_api to the bench database (pool of 16), a customer's JWT on every
request. Clients: 16 asyncio tasks, each with its own keep-alive connection, each posting
`{mechanicId, date}` for the same mechanic-days as the availability bench, in a loop, for N seconds.

The load generator is a minimal HTTP/1.1 client on asyncio streams (below), not httpx: httpx spends
~2 ms of CPU per request, more than the API itself, so on 2 CPUs an httpx load generator measures
mostly itself. httpx still checks the answers (status and JSON shape) and runs the single-client
latency and a short 16-client comparison run (`rest_httpx`), so both figures are in results.json.

Direct SQL, same load shape: 16 asyncio psycopg connections over the same TCP address, as autodoc_api
with `SET ROLE autodoc_customer` once per connection, each running
`SELECT * FROM api.mechanic_slots(mechanic, date)` in autocommit. The gap between the two is the API's
overhead: HTTP, JSON in and out, JWT check, the per-request transaction with SET LOCAL ROLE and the
claims, the pool. Both sides share the 2 CPUs with the load generator, which is itself Python.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from typing import Any

import httpx
import psycopg

from api.auth import mint_token
from api.config import PROJECT_ROOT
from api.devtools.cluster import free_port
from bench.common import CpuMeter, Ctx, Stopwatch, dist, ratio

PATH = "/api/mechanics/availability/slots"
CLIENTS = 16


def _start_api(ctx: Ctx, secret: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = dict(os.environ, AUTODOC_DATABASE_URL=ctx.api_url, AUTODOC_JWT_SECRET=secret)
    log = tempfile.TemporaryFile()  # noqa: SIM115 - not a pipe: a chatty server must never block on it
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1", "--port",
         str(port), "--log-level", "warning", "--no-access-log"],
        cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            err = log.read().decode(errors="replace")
            raise RuntimeError(f"the API exited with {proc.returncode}:\n{err[-3000:]}")
        try:
            if httpx.get(base + "/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the API did not answer /health within 30 s")


async def _rest_load(base: str, token: str, bodies: list[dict[str, str]], clients: int, seconds: float,
                     meter: CpuMeter) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits,
                                 timeout=30) as client:
        async def one(body: dict[str, str], record: bool) -> None:
            sw = Stopwatch()
            r = await client.post(PATH, json=body)
            if record:
                latencies.append(sw.ms())
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        async def task(k: int, deadline: float, record: bool) -> None:
            i = k
            while time.perf_counter() < deadline:
                await one(bodies[i % len(bodies)], record)
                i += clients

        await asyncio.gather(*(task(k, time.perf_counter() + 1.5, False) for k in range(clients)))  # warm-up
        meter.start()
        sw = Stopwatch()
        end = time.perf_counter() + seconds
        await asyncio.gather(*(task(k, end, True) for k in range(clients)))
        elapsed = sw.s()
        cpu = meter.stop(len(latencies), elapsed)
    return {"rps": round(len(latencies) / elapsed, 1), "requests": len(latencies), "statuses": statuses,
            "latency_ms": dist(latencies), "cpu": cpu}


async def _raw_load(base: str, token: str, bodies: list[dict[str, str]], clients: int, seconds: float,
                    meter: CpuMeter) -> dict[str, Any]:
    """The same load as _rest_load with a minimal keep-alive HTTP/1.1 client (status line + Content-Length)."""
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    encoded = [json.dumps(b).encode() for b in bodies]
    head = (f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: ").encode()

    async def task(k: int, deadline: float, record: bool) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            i = k
            while time.perf_counter() < deadline:
                body = encoded[i % len(encoded)]
                sw = Stopwatch()
                writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                    elif name.lower() == b"transfer-encoding":
                        raise RuntimeError("chunked responses are not supported by the bench's client")
                await reader.readexactly(length)
                if record:
                    latencies.append(sw.ms())
                    status = int(status_line.split()[1])
                    statuses[status] = statuses.get(status, 0) + 1
                i += clients
        finally:
            writer.close()

    await asyncio.gather(*(task(k, time.perf_counter() + 1.5, False) for k in range(clients)))  # warm-up
    meter.start()
    sw = Stopwatch()
    end = time.perf_counter() + seconds
    await asyncio.gather(*(task(k, end, True) for k in range(clients)))
    elapsed = sw.s()
    cpu = meter.stop(len(latencies), elapsed)
    return {"rps": round(len(latencies) / elapsed, 1), "requests": len(latencies), "statuses": statuses,
            "latency_ms": dist(latencies), "cpu": cpu}


async def _sql_load(url: str, args: list[tuple[str, str]], clients: int, seconds: float,
                    meter: CpuMeter) -> dict[str, Any]:
    latencies: list[float] = []
    conns = [await psycopg.AsyncConnection.connect(url, autocommit=True) for _ in range(clients)]
    try:
        for c in conns:
            await c.execute("SET ROLE autodoc_customer")

        async def task(k: int, deadline: float, record: bool) -> None:
            i = k
            conn = conns[k]
            while time.perf_counter() < deadline:
                sw = Stopwatch()
                await (await conn.execute("SELECT * FROM api.mechanic_slots(%s, %s)", args[i % len(args)])).fetchall()
                if record:
                    latencies.append(sw.ms())
                i += clients

        await asyncio.gather(*(task(k, time.perf_counter() + 1.5, False) for k in range(clients)))
        meter.start()
        sw = Stopwatch()
        end = time.perf_counter() + seconds
        await asyncio.gather(*(task(k, end, True) for k in range(clients)))
        elapsed = sw.s()
        cpu = meter.stop(len(latencies), elapsed)
    finally:
        for c in conns:
            await c.close()
    return {"rps": round(len(latencies) / elapsed, 1), "calls": len(latencies), "latency_ms": dist(latencies),
            "cpu": cpu}


def _single(base: str, token: str, url: str, bodies: list[dict[str, str]], args: list[tuple[str, str]],
            n: int) -> dict[str, Any]:
    rest: list[float] = []
    direct: list[float] = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        for i in range(n + 20):
            sw = Stopwatch()
            client.post(PATH, json=bodies[i % len(bodies)]).raise_for_status()
            if i >= 20:
                rest.append(sw.ms())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET ROLE autodoc_customer")
        for i in range(n + 20):
            sw = Stopwatch()
            conn.execute("SELECT * FROM api.mechanic_slots(%s, %s)", args[i % len(args)]).fetchall()
            if i >= 20:
                direct.append(sw.ms())
    return {"rest_ms": dist(rest), "sql_ms": dist(direct)}


def run(ctx: Ctx) -> dict[str, Any]:
    seconds = 4 if ctx.quick else 12
    sample = ctx.data["sample"]
    bodies = [{"mechanicId": mid, "date": day.isoformat()} for mid, _, day in sample]
    args = [(mid, day.isoformat()) for mid, _, day in sample]
    with psycopg.connect(ctx.su_dsn) as conn:
        row = conn.execute("SELECT user_id::text FROM bench.customers ORDER BY idx LIMIT 1").fetchone()
        assert row is not None
    secret = secrets.token_urlsafe(48)
    token = mint_token(secret, row[0], "customer", ttl=timedelta(hours=2))
    proc, base = _start_api(ctx, secret)
    try:
        probe = httpx.post(base + PATH, json=bodies[0], headers={"Authorization": f"Bearer {token}"}, timeout=10)
        if probe.status_code == 404:
            return {"skipped": f"{PATH} answers 404: the endpoint is not there yet"}
        if probe.status_code != 200:
            raise RuntimeError(f"{PATH} answered {probe.status_code}: {probe.text[:500]}")
        slots = probe.json().get("slots")
        if not isinstance(slots, list):
            raise RuntimeError(f"unexpected body: {json.dumps(probe.json())[:300]}")
        single = _single(base, token, ctx.api_url, bodies, args, 100 if ctx.quick else 300)
        rest = asyncio.run(_raw_load(base, token, bodies, CLIENTS, seconds,
                                     CpuMeter(ctx.cluster, {"API (uvicorn)": proc.pid})))
        rest_httpx = asyncio.run(_rest_load(base, token, bodies, CLIENTS, max(3, seconds // 2),
                                            CpuMeter(ctx.cluster, {"API (uvicorn)": proc.pid})))
        direct = asyncio.run(_sql_load(ctx.api_url, args, CLIENTS, seconds, CpuMeter(ctx.cluster)))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    ok = rest["statuses"].get(200, 0) == rest["requests"]
    res: dict[str, Any] = {
        "clients": CLIENTS, "seconds": seconds, "uvicorn_workers": 1,
        "load_generator": "minimal asyncio HTTP/1.1 client (httpx figures in rest_httpx)",
        "rest": rest, "rest_httpx": rest_httpx, "sql": direct, "single": single,
        "overhead_throughput": ratio(direct["rps"], rest["rps"]),
        "overhead_latency_p50": ratio(rest["latency_ms"]["p50"], direct["latency_ms"]["p50"]),
        "overhead_single_p50": ratio(single["rest_ms"]["p50"], single["sql_ms"]["p50"]),
        "all_200": ok,
    }
    res["targets"] = [
        {"name": "REST: every request answered 200", "value": ok, "goal": "true", "met": ok},
    ]
    return res
