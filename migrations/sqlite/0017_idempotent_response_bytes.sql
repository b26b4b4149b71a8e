-- Responses kept for idempotent replay are stored as bytes: a rendered label (PDF, PNG) or any
-- body with NUL bytes replays exactly as it was sent. The text column stays for rows written
-- before this migration.
alter table idempotency_keys add column response_bytes blob;
