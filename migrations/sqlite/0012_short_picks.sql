-- Short picks: what the shelf lacked on a pick line (released and re-planned from other stock),
-- and batch certificates.
-- A line is finished when picked + short = quantity. Kept in lockstep with
-- ../postgres/0012_short_picks.sql.
alter table pick_list_lines add column short integer not null default 0 check (short >= 0);

-- A batch's quality certificate reference: items that require a certificate ship only from a
-- batch that has one (recorded at production completion or by quality release).
alter table batches add column certificate text;
