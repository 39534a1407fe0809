"""Idempotency-Key for authenticated POSTs (SPEC §10): a retried request answers what the first one did."""
