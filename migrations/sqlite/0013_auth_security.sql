-- Security hardening (issue 12). Kept in lockstep with ../postgres/0013_auth_security.sql.
-- A user's token generation: every access token carries it, and it goes up when the user is
-- deactivated, their role changes or their password is set, so older tokens stop working on
-- their next request (one primary-key read per request checks it).
alter table users add column token_generation integer not null default 0;
