"""Local stand-ins for the outside world, for `make run` and the tests: Stripe, SMTP and an
identity provider's key set (JWKS).

- `LocalStripe`: localstripe's aiohttp application, started by us (not by its CLI, which binds
  every interface and reloads state from /tmp/localstripe.pickle): bound to 127.0.0.1, from
  scratch and in memory (tests), or with its state kept in a file of our own (`make run`). Webhooks
  it sends are signed like Stripe's.
- From the command line (`make run`), localstripe listens on an internal port behind the
  idempotency-key layer of api/devtools/stripe_keys.py, which answers on the public port and keeps
  its keys in .data/stripe/: a restarted local Stripe never charges twice for one key.
- `LocalSMTP`: an aiosmtpd server on 127.0.0.1 that saves every message it accepts as an .eml
  file in a mail folder (what `make run` shows) and keeps it in memory (what tests read).

Both run in a background thread of the calling process. From the command line:
`python -m api.devtools.local_services stripe --port 8420` and
`python -m api.devtools.local_services smtp --port 8025 --maildir .data/mail`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email
import email.policy
import itertools
import json
import logging
import pickle
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from api.devtools.cluster import free_port

log = logging.getLogger("autodoc.local")


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


# --- Stripe ---------------------------------------------------------------------------------------

class LocalStripe:
    """localstripe on 127.0.0.1:<port>, state in memory only. One per process (localstripe keeps
    its state in module globals)."""

    _running: LocalStripe | None = None

    def __init__(self, port: int = 0, host: str = "127.0.0.1", state_file: Path | None = None) -> None:
        self.host, self.port = host, port or free_port()
        self.state_file = state_file  # None: in memory only
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._dump_pending = False

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def shared(cls) -> LocalStripe:
        """The one localstripe of this process, started on first use (tests share it)."""
        return cls._running or cls().start()

    def start(self) -> LocalStripe:
        if LocalStripe._running is not None:
            raise RuntimeError("localstripe is already running in this process")
        from localstripe import resources

        # From scratch (or from our own state file), never /tmp/localstripe.pickle (shared by every process).
        resources.store.clear()
        if self.state_file is not None and self.state_file.exists():
            with open(self.state_file, "rb") as f:
                resources.store.update(pickle.load(f))
        resources.store.dump_to_disk = self._schedule_dump
        self._thread = threading.Thread(target=self._serve, name="localstripe", daemon=True)
        self._thread.start()
        self._ready.wait(15)
        if self._error is not None:
            raise RuntimeError(f"localstripe failed to start: {self._error!r}")
        LocalStripe._running = self
        return self

    def _serve(self) -> None:
        import warnings

        from aiohttp import web

        # localstripe registers plain (non-async) handlers; aiohttp only warns about it.
        warnings.filterwarnings("ignore", message="Bare functions are deprecated", category=DeprecationWarning)
        from localstripe.server import app

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.TCPSite(self._runner, self.host, self.port).start())
        except BaseException as e:  # reported to start()
            self._error = e
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]  # e.g. webhooks not yet sent
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(self._runner.cleanup())
        loop.close()

    def _schedule_dump(self) -> None:
        """localstripe calls this on every change, in its loop: write the state once per 0.2 s, in
        the loop too (so no request changes the store while it is pickled)."""
        if self.state_file is None or self._loop is None or self._dump_pending:
            return
        self._dump_pending = True
        self._loop.call_later(0.2, self._dump)

    def _dump(self) -> None:
        from localstripe import resources

        self._dump_pending = False
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump(dict(resources.store), f, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(self.state_file)

    def stop(self) -> None:
        if self._loop is not None:
            if self.state_file is not None:
                self._loop.call_soon_threadsafe(self._dump)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        LocalStripe._running = None

    def register_webhook(self, url: str, secret: str, events: list[str] | None = None,
                         webhook_id: str = "autodoc") -> None:
        """Have localstripe POST signed events to `url` (its /_config/webhooks endpoint)."""
        body: dict[str, Any] = {"url": url, "secret": secret}
        if events:
            body["events"] = events
        req = urllib.request.Request(f"{self.url}/_config/webhooks/{webhook_id}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()

    def flush(self) -> None:
        """Forget every object (DELETE /_config/data)."""
        req = urllib.request.Request(f"{self.url}/_config/data", method="DELETE")
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()

    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


# --- SMTP -----------------------------------------------------------------------------------------

Responder = Callable[[Any], str | None]


class MailFolderHandler:
    """aiosmtpd handler: each accepted message becomes `<folder>/<millis>-<n>.eml` and an entry in
    `messages`. `respond` (tests) may return an SMTP reply such as "451 4.3.0 Try later" to reject
    a message instead."""

    def __init__(self, folder: Path | None = None, respond: Responder | None = None) -> None:
        self.folder = folder
        self.respond = respond
        self.messages: list[EmailMessage] = []
        self.attempts = 0
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.attempts += 1
        reply = self.respond(envelope) if self.respond else None
        if reply:
            return reply
        raw: bytes = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        with self._lock:
            n = next(self._counter)
            self.messages.append(message)
        if self.folder is not None:
            (self.folder / f"{int(time.time() * 1000)}-{n:06d}.eml").write_bytes(raw)
        return "250 Message accepted for delivery"


class LocalSMTP:
    """An SMTP server on 127.0.0.1 (aiosmtpd Controller, in a thread)."""

    def __init__(self, mail_dir: Path | str | None = None, port: int = 0, host: str = "127.0.0.1",
                 respond: Responder | None = None) -> None:
        self.host, self.port = host, port or free_port()
        self.handler = MailFolderHandler(Path(mail_dir) if mail_dir else None, respond)
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> LocalSMTP:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
        self._controller = Controller(self.handler, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Wait (on a real event, with a timeout) until at least `count` messages arrived."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.messages)

    def __enter__(self) -> LocalSMTP:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


# --- command line ---------------------------------------------------------------------------------

# --- identity provider (JWKS) ---------------------------------------------------------------------

class LocalJWKS:
    """Serves the local key's JWKS at http://127.0.0.1:<port>/.well-known/jwks.json (the local
    stand-in for a provider's key endpoint, so `make run` verifies ES256 tokens the way it would
    verify Supabase's or Auth0's)."""

    def __init__(self, key_file: Path, port: int = 0, host: str = "127.0.0.1") -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from api.devtools.secrets import local_jwks

        body = json.dumps(local_jwks(key_file)).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port or free_port()), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://{host}:{self.port}/.well-known/jwks.json"

    def __enter__(self) -> LocalJWKS:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.is_set():
        stop.wait(0.5)


def main(argv: list[str] | None = None) -> int:
    from api.config import DATA_DIR, Settings

    parser = argparse.ArgumentParser(prog="python -m api.devtools.local_services", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="service", required=True)
    s = sub.add_parser("stripe", help="localstripe on 127.0.0.1")
    s.add_argument("--host", default="127.0.0.1", help="bind address (containers: 0.0.0.0)")
    s.add_argument("--port", type=int, default=8420)
    s.add_argument("--webhook-url", default=None,
                   help="where to send signed webhooks (default: <public base url>/api/webhooks/stripe)")
    s.add_argument("--no-webhook", action="store_true")
    s.add_argument("--state-dir", default=str(DATA_DIR / "stripe"),
                   help="where localstripe's objects and the idempotency keys are kept across restarts")
    m = sub.add_parser("smtp", help="SMTP server saving .eml files")
    m.add_argument("--host", default="127.0.0.1", help="bind address (containers: 0.0.0.0)")
    m.add_argument("--port", type=int, default=8025)
    m.add_argument("--maildir", default=str(DATA_DIR / "mail"))
    j = sub.add_parser("jwks", help="the local identity provider's JWKS (the key in .data/jwt-local-key.pem)")
    j.add_argument("--port", type=int, default=8426)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.service == "stripe":
        from api.devtools.stripe_keys import IdempotencyLayer, KeyStore

        settings = Settings.from_env()
        state = Path(args.state_dir)
        keys = KeyStore(state / "idempotency-keys.sqlite3")
        # localstripe on an internal port of 127.0.0.1; callers reach it only through the key layer.
        with LocalStripe(0, state_file=state / "localstripe.pickle") as stripe_server:
            layer = IdempotencyLayer(stripe_server.port, keys, host=args.host, port=args.port).start()
            print(f"local Stripe listening on {layer.url} (idempotency keys kept in {state}/: "
                  f"{keys.count()} so far)", flush=True)
            if not args.no_webhook and settings.stripe_webhook_secret:
                url = args.webhook_url or settings.public_base_url.rstrip("/") + "/api/webhooks/stripe"
                stripe_server.register_webhook(url, settings.stripe_webhook_secret)
                print(f"webhooks go to {url}", flush=True)
            try:
                _wait_for_signal()
            finally:
                layer.stop()
                keys.close()
    elif args.service == "jwks":
        from api.devtools.secrets import ensure_local_key

        with LocalJWKS(ensure_local_key(), args.port) as jwks:
            print(f"JWKS of the local signing key at {jwks.url}", flush=True)
            _wait_for_signal()
    else:
        with LocalSMTP(args.maildir, args.port, host=args.host) as smtp:
            print(f"SMTP listening on {args.host}:{smtp.port}, saving to {args.maildir}", flush=True)
            _wait_for_signal()
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
