-- Scheduled jobs: a lease per job so that with several instances one runs it; and the alerts the
-- expiry job raises. Kept in lockstep with ../postgres/0004_jobs.sql.

create table job_leases (
    name       text primary key,
    holder     text not null,
    expires_at text not null
);

-- One open alert per (kind, batch): the job re-raising it changes nothing.
create table alerts (
    id          integer primary key autoincrement,
    kind        text not null check (kind in ('expiring', 'expired')),
    batch_id    integer not null references batches (id),
    item_id     integer not null references items (id),
    message     text not null,
    due_date    text,
    created_at  text not null,
    resolved_at text,
    unique (kind, batch_id)
);
create index alerts_open on alerts (resolved_at, id);
