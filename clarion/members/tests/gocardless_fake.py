"""A loopback stand-in for api.gocardless.com that checks requests against GoCardless's
documented wire format (JSON bodies wrapped in the resource's envelope key, bearer
token, ``GoCardless-Version``, ``Idempotency-Key`` on every create) and answers with its
documented response shapes, including the 409 ``idempotent_creation_conflict`` that
the client turns into a fetch of the resource first created."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeGoCardless:
    def __init__(self, access_token: str = "sandbox_clarion_token"):
        self.access_token = access_token
        self.requests: list[dict] = []
        self.billing_requests: dict[str, dict] = {}
        self.flows: dict[str, dict] = {}
        self.subscriptions: dict[str, dict] = {}
        self.payments: dict[str, dict] = {}
        self.mandates: dict[str, dict] = {}
        self.created_by_key: dict[str, tuple[str, str]] = {}
        self.fail_with: tuple[int, dict] | None = None
        # Subscription ids cancelled through the API, and (id, changes) of updates.
        self.cancelled: list[str] = []
        self.updated: list[tuple[str, dict]] = []
        # GoCardless allows ten changes of a subscription's amount.
        self.amendments_left: dict[str, int] = {}
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

            def _error(self, status: int, type_: str, message: str, errors=None, links=None):
                error = {
                    "type": type_,
                    "code": status,
                    "message": message,
                    "documentation_url": "https://developer.gocardless.com/api-reference#errors",
                    "request_id": "RQ0001",
                    "errors": errors or [{"reason": type_, "message": message}],
                }
                if links:
                    error["errors"][0]["links"] = links
                return self._answer(status, {"error": error})

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                body = json.loads(raw) if raw else None
                fake.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                if self.headers.get("Authorization") != f"Bearer {fake.access_token}":
                    return self._error(401, "invalid_api_usage", "Invalid access token")
                if self.headers.get("GoCardless-Version") != "2015-07-06":
                    return self._error(400, "invalid_api_usage", "Missing GoCardless-Version")
                if fake.fail_with:
                    return self._error(*fake.fail_with)
                if self.command in ("POST", "PUT"):
                    if self.headers.get("Content-Type") != "application/json":
                        return self._error(415, "invalid_api_usage", "JSON only")
                if self.command == "POST":
                    key = self.headers.get("Idempotency-Key")
                    if not key:
                        return self._error(400, "invalid_api_usage", "Idempotency-Key required")
                    if self.path in (
                        "/billing_requests",
                        "/billing_request_flows",
                        "/subscriptions",
                    ):
                        if key in fake.created_by_key:
                            _kind, rid = fake.created_by_key[key]
                            return self._error(
                                409,
                                "invalid_state",
                                "A resource has already been created with this idempotency key",
                                errors=[
                                    {
                                        "reason": "idempotent_creation_conflict",
                                        "message": "A resource has already been created "
                                        "with this idempotency key",
                                        "links": {"conflicting_resource_id": rid},
                                    }
                                ],
                            )
                return fake._route(self, body)

            do_GET = _handle
            do_POST = _handle
            do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n:06d}"

    def _route(self, h, body):
        path, method = h.path.split("?")[0], h.command
        key = h.headers.get("Idempotency-Key", "")
        if method == "POST" and path == "/billing_requests":
            data = (body or {}).get("billing_requests")
            if not isinstance(data, dict) or not isinstance(data.get("mandate_request"), dict):
                return h._error(422, "validation_failed", "mandate_request is required")
            br = {
                "id": self._id("BRQ"),
                "status": "pending",
                "created_at": "2026-12-04T10:00:00.000Z",
                "metadata": data.get("metadata", {}),
                "mandate_request": {**data["mandate_request"], "links": {}},
                "links": {"creditor": "CR123"},
            }
            self.billing_requests[br["id"]] = br
            self.created_by_key[key] = ("billing_requests", br["id"])
            return h._answer(201, {"billing_requests": br})
        if method == "POST" and path == "/billing_request_flows":
            data = (body or {}).get("billing_request_flows")
            br_id = ((data or {}).get("links") or {}).get("billing_request")
            if br_id not in self.billing_requests or not data.get("redirect_uri"):
                return h._error(422, "validation_failed", "links[billing_request] is invalid")
            flow = {
                "id": self._id("BRF"),
                "authorisation_url": f"https://pay-sandbox.gocardless.com/billing/static/flow?id={self._n}",
                "redirect_uri": data["redirect_uri"],
                "exit_uri": data.get("exit_uri"),
                "prefilled_customer": data.get("prefilled_customer", {}),
                "links": {"billing_request": br_id},
            }
            self.flows[flow["id"]] = flow
            self.created_by_key[key] = ("billing_request_flows", flow["id"])
            return h._answer(201, {"billing_request_flows": flow})
        if method == "POST" and path == "/subscriptions":
            data = (body or {}).get("subscriptions") or {}
            mandate = (data.get("links") or {}).get("mandate")
            if (
                mandate not in self.mandates
                or not isinstance(data.get("amount"), int)
                or data.get("interval_unit") not in ("weekly", "monthly", "yearly")
                or data.get("currency") != "GBP"
            ):
                return h._error(422, "validation_failed", "invalid subscription")
            sub = {
                "id": self._id("SB"),
                "status": "active",
                "amount": data["amount"],
                "currency": data["currency"],
                "interval_unit": data["interval_unit"],
                "interval": data.get("interval", 1),
                "name": data.get("name"),
                "metadata": data.get("metadata", {}),
                "links": {"mandate": mandate},
            }
            self.subscriptions[sub["id"]] = sub
            self.created_by_key[key] = ("subscriptions", sub["id"])
            return h._answer(201, {"subscriptions": sub})
        if (
            method == "POST"
            and path.startswith("/subscriptions/")
            and path.endswith("/actions/cancel")
        ):
            # Actions take an optional body in the "data" envelope (only metadata here).
            if body is not None and (
                set(body) != {"data"} or not set(body["data"]) <= {"metadata"}
            ):
                return h._error(422, "validation_failed", "Actions take data[metadata] only")
            sub = self.subscriptions.get(path.split("/")[2])
            if sub is None:
                return h._error(404, "invalid_api_usage", "Resource not found")
            if sub["status"] == "cancelled":
                return h._error(
                    422,
                    "invalid_state",
                    "This subscription has already been cancelled",
                    errors=[{"reason": "cancellation_failed", "message": "Already cancelled"}],
                )
            sub["status"] = "cancelled"
            self.cancelled.append(sub["id"])
            return h._answer(200, {"subscriptions": sub})
        if method == "PUT" and path.startswith("/subscriptions/"):
            sub = self.subscriptions.get(path.split("/")[2])
            data = (body or {}).get("subscriptions")
            if sub is None:
                return h._error(404, "invalid_api_usage", "Resource not found")
            allowed = {"amount", "name", "metadata", "payment_reference", "app_fee"}
            if not isinstance(data, dict) or not set(data) <= allowed:
                return h._error(422, "validation_failed", "Unknown subscription field")
            if sub["status"] != "active":
                return h._error(
                    422,
                    "invalid_state",
                    "Subscription is not active",
                    errors=[{"reason": "subscription_not_active", "message": "Not active"}],
                )
            if "amount" in data:
                if not isinstance(data["amount"], int) or data["amount"] <= 0:
                    return h._error(422, "validation_failed", "amount must be positive")
                left = self.amendments_left.get(sub["id"], 10)
                if left <= 0:
                    return h._error(
                        422,
                        "validation_failed",
                        "The subscription amount has already been changed 10 times",
                        errors=[
                            {
                                "reason": "number_of_subscription_amendments_exceeded",
                                "message": "Amount changed too many times",
                            }
                        ],
                    )
                self.amendments_left[sub["id"]] = left - 1
            sub.update(data)
            self.updated.append((sub["id"], data))
            return h._answer(200, {"subscriptions": sub})
        if method == "GET":
            parts = path.strip("/").split("/")
            stores = {
                "billing_requests": self.billing_requests,
                "subscriptions": self.subscriptions,
                "payments": self.payments,
                "mandates": self.mandates,
            }
            if len(parts) == 2 and parts[0] in stores and parts[1] in stores[parts[0]]:
                return h._answer(200, {parts[0]: stores[parts[0]][parts[1]]})
            return h._error(404, "invalid_api_usage", "Resource not found")
        return h._error(404, "invalid_api_usage", f"Unknown route {method} {path}")

    # --- what GoCardless does on its side ---------------------------------------------

    def fulfil(self, billing_request_id: str) -> str:
        """The payer completed the hosted flow: a customer and a mandate exist and the
        Billing Request is fulfilled. Returns the mandate id."""
        br = self.billing_requests[billing_request_id]
        mandate_id = self._id("MD")
        self.mandates[mandate_id] = {
            "id": mandate_id,
            "status": "pending_submission",
            "scheme": "bacs",
            "metadata": br["mandate_request"].get("metadata", {}),
            "links": {"customer": "CU123", "creditor": "CR123"},
        }
        br["status"] = "fulfilled"
        br["links"].update(
            {"customer": "CU123", "mandate_request": "MRQ1", "mandate_request_mandate": mandate_id}
        )
        return mandate_id

    def payment_add(self, subscription_id: str, status: str = "confirmed") -> str:
        sub = self.subscriptions[subscription_id]
        payment_id = self._id("PM")
        self.payments[payment_id] = {
            "id": payment_id,
            "amount": sub["amount"],
            "currency": sub["currency"],
            "status": status,
            "charge_date": "2026-12-09",
            "metadata": {},
            "links": {"mandate": sub["links"]["mandate"], "subscription": subscription_id},
        }
        return payment_id

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
