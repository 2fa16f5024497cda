"""The send pipeline: tokens, rendering, MIME and DKIM, SMTP transport, and the
delivery loop that works the ledger (see ``deliver``)."""
