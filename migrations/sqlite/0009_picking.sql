-- Pick lists: lines from deals' reservations, in pick-route order, picked by scan into a
-- packing location. Kept in lockstep with ../postgres/0009_picking.sql.
create table pick_lists (
    id                  integer primary key autoincrement,
    warehouse_id        integer not null references warehouses (id),
    packing_location_id integer not null references locations (id),
    status              text not null default 'open' check (status in ('open', 'done', 'cancelled')),
    -- The location the picker scanned last: goods scans are checked against it.
    current_location_id integer references locations (id),
    created_by          integer references users (id),
    created_at          text not null,
    updated_at          text not null
);

create table pick_list_lines (
    id             integer primary key autoincrement,
    pick_list_id   integer not null references pick_lists (id),
    sequence       integer not null,
    deal_id        integer not null references deals (id),
    deal_line_id   integer not null,
    item_id        integer not null references items (id),
    location_id    integer not null references locations (id),
    batch_id       integer references batches (id),
    reservation_id integer not null references reservations (id),
    quantity       integer not null check (quantity > 0),
    picked         integer not null default 0 check (picked >= 0 and picked <= quantity),
    unique (pick_list_id, sequence)
);
create index pick_list_lines_list on pick_list_lines (pick_list_id, sequence);
create index pick_list_lines_reservation on pick_list_lines (reservation_id);
