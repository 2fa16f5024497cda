"""The demo's sign-in, shared by ``clarion load_demo`` (the demo app) and ``clarion serve``
(which prints it)."""

DEMO_PASSWORD = "clarion-demo"
DEMO_ADMIN = "admin@example.org"
