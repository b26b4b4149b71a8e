-- Print jobs: labels queued for printers (devices of kind 'printer'). Kept in lockstep with
-- ../postgres/0007_printing.sql.

-- A job is stored (status 'queued') before the API acknowledges it; a worker claims it with a
-- conditional update to 'sending', and it ends 'done' or 'failed' (with last_error). payload is
-- what was rendered at submission, base64: the job prints what was asked even if templates
-- change later.
create table print_jobs (
    id                integer primary key autoincrement,
    printer_id        integer not null references devices (id),
    -- The label template, or NULL for raw ZPL sent by an admin.
    template          text,
    -- The template's data (a JSON object as text), or NULL for raw ZPL.
    data              text,
    format            text not null check (format in ('zpl', 'pdf')),
    copies            integer not null check (copies between 1 and 100),
    status            text not null default 'queued'
                          check (status in ('queued', 'sending', 'done', 'failed')),
    attempts          integer not null default 0,
    last_error        text,
    next_attempt_at   text not null,
    payload           text not null,
    created_by        integer references users (id),
    created_by_device integer references devices (id),
    created_at        text not null,
    updated_at        text not null,
    done_at           text
);
create index print_jobs_due on print_jobs (status, next_attempt_at);
create index print_jobs_printer on print_jobs (printer_id, id);
