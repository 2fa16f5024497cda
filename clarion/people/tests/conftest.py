from clarion.core.testing.smtp import smtp_server  # noqa: F401  (fixture)
