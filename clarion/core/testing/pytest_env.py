"""Loaded by pytest before Django starts (``-p`` in pyproject.toml): test defaults.

A developer running plain ``pytest`` gets a throwaway secret key and a private var
directory, and the suite never touches the demo database.
"""

import os
import tempfile

os.environ.setdefault("CLARION_SECRET_KEY", "test-only-not-secret")
os.environ.setdefault("CLARION_VAR_DIR", tempfile.mkdtemp(prefix="clarion-test-"))
os.environ.setdefault("CLARION_SECURE", "0")
os.environ.setdefault("CLARION_STATIC_MANIFEST", "0")
os.environ.setdefault("CLARION_TEST_FAST_HASHER", "1")
# Playwright's sync API runs an event loop in the test thread; Django's ORM calls made
# by the test itself (setting up rows) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
