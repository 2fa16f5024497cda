"""A loopback stand-in for api.stripe.com that checks requests against Stripe's
documented wire format and answers with its documented response shapes."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeStripe:
    def __init__(self, secret_key: str = "sk_test_clarion"):
        self.secret_key = secret_key
        self.requests: list[dict] = []
        self.fail_with: tuple[int, dict] | None = None
        # Answers given once each, in order, before any other: a Stripe hiccup.
        self.fail_next: list[tuple[int, dict]] = []
        # Idempotency keys already answered, with the session they created: Stripe
        # replays the first answer for a repeated key instead of creating another.
        self.sessions_by_key: dict[str, dict] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _answer(self, status: int, body: dict):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                form = urllib.parse.parse_qs(raw, keep_blank_values=True)
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "form": {k: v[0] for k, v in form.items()},
                        "raw": raw,
                    }
                )
                if self.headers.get("Authorization") != f"Bearer {fake.secret_key}":
                    return self._answer(
                        401,
                        {
                            "error": {
                                "type": "invalid_request_error",
                                "message": "Invalid API Key provided",
                            }
                        },
                    )
                if fake.fail_next:
                    return self._answer(*fake.fail_next.pop(0))
                if fake.fail_with:
                    return self._answer(*fake.fail_with)
                if self.command == "POST" and self.path == "/v1/checkout/sessions":
                    if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                        return self._answer(400, {"error": {"message": "bad content type"}})
                    key = self.headers.get("Idempotency-Key", "")
                    if key and key in fake.sessions_by_key:
                        return self._answer(200, fake.sessions_by_key[key])
                    n = len(fake.requests)
                    session_id = f"cs_test_a1B2c3{n:04d}"
                    fake.sessions_by_key[key] = session = {
                        "id": session_id,
                        "object": "checkout.session",
                        "mode": form["mode"][0],
                        "status": "open",
                        "payment_status": "unpaid",
                        "client_reference_id": form.get("client_reference_id", [None])[0],
                        "metadata": {"donation_id": form.get("metadata[donation_id]", [""])[0]},
                        "url": f"https://checkout.stripe.com/c/pay/{session_id}#fidkdWxOYHwn",
                    }
                    return self._answer(200, session)
                if self.command == "DELETE" and self.path.startswith("/v1/subscriptions/"):
                    sub_id = urllib.parse.unquote(self.path.rsplit("/", 1)[1])
                    return self._answer(
                        200, {"id": sub_id, "object": "subscription", "status": "canceled"}
                    )
                return self._answer(
                    404,
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "message": f"Unrecognized request URL ({self.command}: {self.path})",
                        }
                    },
                )

            do_POST = _handle
            do_DELETE = _handle
            do_GET = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
