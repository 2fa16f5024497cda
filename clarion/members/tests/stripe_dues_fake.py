"""A loopback stand-in for the part of api.stripe.com that membership dues use after
Checkout: Retrieve, Update and Cancel a subscription. It checks requests against
Stripe's documented wire format (bearer secret key, form-encoded bodies with bracketed
keys, ``Stripe-Version``) and answers with the documented shapes: a subscription with
its items list, 404 ``resource_missing`` for one that is cancelled or unknown (Stripe
treats a cancelled subscription as gone), 400 for an update Stripe would refuse."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeStripeSubscriptions:
    def __init__(self, secret_key: str = "sk_test_clarion_members"):
        self.secret_key = secret_key
        self.requests: list[dict] = []
        self.subscriptions: dict[str, dict] = {}
        self.cancelled: list[str] = []
        self.updated: list[tuple[str, dict]] = []
        # Answers given once each, in order, before any other: a Stripe outage.
        self.fail_next: list[tuple[int, dict]] = []
        self._n = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: dict):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _error(self, status: int, message: str, code: str = "", param: str = ""):
                error = {"type": "invalid_request_error", "message": message}
                if code:
                    error["code"] = code
                if param:
                    error["param"] = param
                return self._answer(status, {"error": error})

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                form = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "form": form,
                    }
                )
                if self.headers.get("Authorization") != f"Bearer {fake.secret_key}":
                    return self._error(401, "Invalid API Key provided")
                if not self.headers.get("Stripe-Version"):
                    return self._error(400, "Stripe-Version header missing")
                if fake.fail_next:
                    return self._answer(*fake.fail_next.pop(0))
                if self.command == "POST" and (
                    self.headers.get("Content-Type") != "application/x-www-form-urlencoded"
                ):
                    return self._error(400, "bad content type")
                return fake._route(self, urllib.parse.urlsplit(self.path).path, form)

            do_GET = _handle
            do_POST = _handle
            do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_test{self._n:06d}"

    def _route(self, h, path: str, form: dict):
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[:2] != ["v1", "subscriptions"]:
            return h._error(404, f"Unrecognized request URL ({h.command}: {path})")
        sub = self.subscriptions.get(urllib.parse.unquote(parts[2]))
        if sub is None or (h.command != "GET" and sub["status"] == "canceled"):
            return h._error(404, f"No such subscription: '{parts[2]}'", "resource_missing", "id")
        if h.command == "GET":
            return h._answer(200, sub)
        if h.command == "DELETE":
            sub["status"] = "canceled"
            self.cancelled.append(sub["id"])
            return h._answer(200, sub)
        # Update a subscription.
        item = sub["items"]["data"][0]
        if form.get("items[0][id]") != item["id"]:
            return h._error(400, "No such subscription item", "resource_missing", "items[0][id]")
        data = {
            k.removeprefix("items[0][price_data]"): v
            for k, v in form.items()
            if k.startswith("items[0][price_data]")
        }
        if data:
            amount = data.get("[unit_amount]", "")
            if not data.get("[product]") or data.get("[currency]") != "gbp":
                return h._error(400, "Missing required param: product.", param="product")
            if not amount.isdigit() or data.get("[recurring][interval]") not in ("month", "year"):
                return h._error(400, "Invalid price_data.", param="items[0][price_data]")
            if data["[product]"] != item["price"]["product"]:
                return h._error(400, "No such product", "resource_missing", "product")
            item["price"] = {
                "id": self._id("price"),
                "object": "price",
                "product": data["[product]"],
                "currency": "gbp",
                "unit_amount": int(amount),
                "recurring": {"interval": data["[recurring][interval]"], "interval_count": 1},
            }
        for key, value in form.items():
            if key.startswith("metadata[") and key.endswith("]"):
                sub["metadata"][key[9:-1]] = value
        self.updated.append((sub["id"], form))
        return h._answer(200, sub)

    # --- what Stripe holds after Checkout ------------------------------------------------

    def subscription_add(self, metadata: dict, unit_amount: int, interval: str = "month") -> str:
        sub_id = self._id("sub")
        self.subscriptions[sub_id] = {
            "id": sub_id,
            "object": "subscription",
            "status": "active",
            "metadata": dict(metadata),
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": self._id("si"),
                        "object": "subscription_item",
                        "quantity": 1,
                        "price": {
                            "id": self._id("price"),
                            "object": "price",
                            "product": self._id("prod"),
                            "currency": "gbp",
                            "unit_amount": unit_amount,
                            "recurring": {"interval": interval, "interval_count": 1},
                        },
                    }
                ],
            },
        }
        return sub_id

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
