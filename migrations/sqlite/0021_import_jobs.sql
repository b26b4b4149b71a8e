-- Issue 18: an import too big to answer within a request runs as a job. The file waits here
-- until a worker (src/transfer/jobs.rs) has applied it, all rows or none, in one transaction
-- that also records the outcome. Kept in lockstep with ../postgres/0021_import_jobs.sql.
create table import_jobs (
    id           integer primary key autoincrement,
    kind         text not null,
    dry_run      boolean not null,
    status       text not null default 'queued'
                     check (status in ('queued', 'running', 'done', 'failed')),
    -- The uploaded file (CSV or XLSX), dropped once the job has ended.
    file         blob,
    rows_total   integer not null,
    -- Rows applied so far: live in the running worker, written by its heartbeat and at the end.
    rows_done    integer not null default 0,
    -- What the import did (or would do), as JSON: `{rows, created, updated, unchanged, errors}`.
    outcome      text,
    created_by   integer not null references users (id),
    -- The instance running it, and when it last said it still was.
    claimed_by   text,
    heartbeat_at text,
    created_at   text not null,
    finished_at  text
);
create index import_jobs_waiting on import_jobs (status, id);
