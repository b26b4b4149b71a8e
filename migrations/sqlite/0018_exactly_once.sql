-- Exactly once (issue 15). Kept in lockstep with ../postgres/0018_exactly_once.sql.
--
-- The idempotency record is now written in the request's own transaction, complete: a row
-- exists only for a request whose work committed. The headers a replay must repeat besides the
-- content type (Location, Content-Disposition) are kept as a JSON array of [name, value].
alter table idempotency_keys add column response_headers text;

-- Operations a device queued while offline and sent through POST /v1/sync/ops: one row per
-- operation, written in the operation's own transaction, so an operation applies once by its
-- op_id however often the batch is sent. The answer is kept for replay; a failed operation is an
-- exception until a supervisor resolves it. Device time is kept beside server time.
create table sync_ops (
    id            integer primary key autoincrement,
    principal     text not null,
    op_id         text not null,
    op_type       text not null,
    user_id       integer references users (id),
    device_id     integer references devices (id),
    device_at     text,
    received_at   text not null,
    request_hash  text not null,
    status        integer not null,
    content_type  text,
    response      blob not null,
    -- Failed operations wait here for a supervisor.
    exception     integer not null default 0,
    resolved_at   text,
    resolved_by   integer references users (id),
    resolution    text,
    unique (principal, op_id)
);
create index sync_ops_open_exceptions on sync_ops (exception, resolved_at, id);
