-- The change feed (issue 15): what a scanner mirrors to resolve scans offline. Every change of
-- an item (with its GTINs), an alias, a location, a batch, a printer or a pick list (with its
-- lines) is recorded in sync_changes by a trigger on the table itself, so no code path can
-- forget one. GET /v1/sync/changes reads them in feed order (src/sync/changes.rs,
-- docs/offline.md). Kept in lockstep with ../postgres/0019_sync_changes.sql.
-- A migration that rebuilds one of these tables (create new, copy, drop, rename) drops its
-- triggers with the old table and must create them again.

-- An item can be taken out of use without deleting it (stock and history point to it); the
-- feed answers a deactivated item as `delete`.
alter table items add column active boolean not null default 1;

-- The user a pick list is assigned to; null: anyone may pick it.
alter table pick_lists add column assigned_to integer references users (id);

-- One row per change of one entity: which entity, and for pick lists who could see it before
-- and after the change (old_assignee, new_assignee; null stands for "assigned to nobody", which
-- everyone sees). An alias is named by its code, every other entity by its id. position is its
-- place in the feed: null until the sequencer gives it one, after the writing transaction
-- committed (the same code runs on PostgreSQL, where ids may commit out of order; a position is
-- given only to committed rows, in increasing order, so a reader never skips one).
create table sync_changes (
    id           integer primary key autoincrement,
    entity       text not null
                 check (entity in ('item', 'alias', 'location', 'batch', 'printer', 'pick_list')),
    entity_id    integer,
    entity_code  text,
    old_assignee integer,
    new_assignee integer,
    position     integer,
    created_at   text not null
);
create unique index sync_changes_position on sync_changes (position);
create index sync_changes_unsequenced on sync_changes (id) where position is null;

-- The sequencer's one row: updating it first is the sequencer's turn, and last_position is the
-- highest position given so far (the head of the feed).
create table sync_sequencer (
    id            integer primary key check (id = 1),
    last_position integer not null
);
insert into sync_sequencer (id, last_position) values (1, 0);

-- The triggers insert one small row each; their time is SQLite's clock (RFC 3339, UTC), the
-- one place where the database, not Rust, gives a time stamp.
create trigger items_sync_insert after insert on items begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('item', new.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;
create trigger items_sync_update after update on items begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('item', new.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;
create trigger items_sync_delete after delete on items begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('item', old.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;

-- A GTIN is part of its item: its change is a change of the item (of both, when it moves).
create trigger item_gtins_sync_insert after insert on item_gtins begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('item', new.item_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;
create trigger item_gtins_sync_update after update on item_gtins begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('item', new.item_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    insert into sync_changes (entity, entity_id, created_at)
    select 'item', old.item_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') where old.item_id <> new.item_id;
end;
create trigger item_gtins_sync_delete after delete on item_gtins begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('item', old.item_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;

create trigger barcode_aliases_sync_insert after insert on barcode_aliases begin
    insert into sync_changes (entity, entity_code, created_at)
    values ('alias', new.code, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;
create trigger barcode_aliases_sync_update after update on barcode_aliases begin
    insert into sync_changes (entity, entity_code, created_at)
    values ('alias', new.code, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    insert into sync_changes (entity, entity_code, created_at)
    select 'alias', old.code, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') where old.code <> new.code;
end;
create trigger barcode_aliases_sync_delete after delete on barcode_aliases begin
    insert into sync_changes (entity, entity_code, created_at)
    values ('alias', old.code, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;

create trigger locations_sync_insert after insert on locations begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('location', new.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;
create trigger locations_sync_update after update on locations begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('location', new.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;
create trigger locations_sync_delete after delete on locations begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('location', old.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;

create trigger batches_sync_insert after insert on batches begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('batch', new.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;
create trigger batches_sync_update after update on batches begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('batch', new.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;
create trigger batches_sync_delete after delete on batches begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('batch', old.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;

-- Printers only, and only what the feed shows of them (name, profile) or their revocation.
create trigger devices_sync_insert after insert on devices when new.kind = 'printer' begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('printer', new.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;
create trigger devices_sync_update after update on devices
    when (old.kind = 'printer' or new.kind = 'printer')
     and (old.name is not new.name or old.kind is not new.kind or old.profile is not new.profile
          or old.revoked_at is not new.revoked_at)
begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('printer', new.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;
create trigger devices_sync_delete after delete on devices when old.kind = 'printer' begin
    insert into sync_changes (entity, entity_id, created_at)
    values ('printer', old.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;

-- A pick list's own columns that the feed shows; not updated_at, which every pick scan touches.
create trigger pick_lists_sync_insert after insert on pick_lists begin
    insert into sync_changes (entity, entity_id, old_assignee, new_assignee, created_at)
    values ('pick_list', new.id, new.assigned_to, new.assigned_to, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;
create trigger pick_lists_sync_update after update on pick_lists
    when old.status is not new.status or old.assigned_to is not new.assigned_to
      or old.current_location_id is not new.current_location_id
      or old.warehouse_id is not new.warehouse_id
      or old.packing_location_id is not new.packing_location_id
begin
    insert into sync_changes (entity, entity_id, old_assignee, new_assignee, created_at)
    values ('pick_list', new.id, old.assigned_to, new.assigned_to, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;
create trigger pick_lists_sync_delete after delete on pick_lists begin
    insert into sync_changes (entity, entity_id, old_assignee, new_assignee, created_at)
    values ('pick_list', old.id, old.assigned_to, old.assigned_to, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
end;

-- A line is part of its list: one primary-key read for the list's assignee.
create trigger pick_list_lines_sync_insert after insert on pick_list_lines begin
    insert into sync_changes (entity, entity_id, old_assignee, new_assignee, created_at)
    select 'pick_list', l.id, l.assigned_to, l.assigned_to, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    from pick_lists l where l.id = new.pick_list_id;
end;
create trigger pick_list_lines_sync_update after update on pick_list_lines begin
    insert into sync_changes (entity, entity_id, old_assignee, new_assignee, created_at)
    select 'pick_list', l.id, l.assigned_to, l.assigned_to, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    from pick_lists l where l.id = new.pick_list_id;
end;
create trigger pick_list_lines_sync_delete after delete on pick_list_lines begin
    insert into sync_changes (entity, entity_id, old_assignee, new_assignee, created_at)
    select 'pick_list', l.id, l.assigned_to, l.assigned_to, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    from pick_lists l where l.id = old.pick_list_id;
end;

-- What exists already is in the feed from its start: one change per entity (deactivated items,
-- revoked printers and closed pick lists need none).
insert into sync_changes (entity, entity_id, created_at)
    select 'item', id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') from items order by id;
insert into sync_changes (entity, entity_code, created_at)
    select 'alias', code, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') from barcode_aliases order by code;
insert into sync_changes (entity, entity_id, created_at)
    select 'location', id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') from locations order by id;
insert into sync_changes (entity, entity_id, created_at)
    select 'batch', id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') from batches order by id;
insert into sync_changes (entity, entity_id, created_at)
    select 'printer', id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') from devices
    where kind = 'printer' and revoked_at is null order by id;
insert into sync_changes (entity, entity_id, old_assignee, new_assignee, created_at)
    select 'pick_list', id, assigned_to, assigned_to, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    from pick_lists where status = 'open' order by id;
