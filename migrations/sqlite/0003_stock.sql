-- Stock: batches (lots), the append-only movement ledger, and balances maintained from it.
-- Kept in lockstep with ../postgres/0003_stock.sql: same tables, same columns, same names.
-- Dates are TEXT 'YYYY-MM-DD' here (date on PostgreSQL); text order is date order.

create table batches (
    id              integer primary key autoincrement,
    item_id         integer not null references items (id),
    code            text not null,
    expiry_date     text,
    production_date text,
    received_at     text not null,
    status          text not null default 'available'
                    check (status in ('available', 'quarantine', 'expired', 'recalled')),
    created_at      text not null,
    unique (item_id, code)
);
create index batches_expiry on batches (expiry_date);
-- FEFO reads an item's batches in expiry order.
create index batches_item_expiry on batches (item_id, expiry_date);

-- Every change of stock, never updated or deleted; corrections are reversals (reversal_of).
create table stock_movements (
    id            integer primary key autoincrement,
    item_id       integer not null references items (id),
    batch_id      integer references batches (id),
    warehouse_id  integer not null references warehouses (id),
    location_id   integer not null references locations (id),
    quantity      integer not null check (quantity <> 0),
    movement_type text not null check (movement_type in ('receipt', 'move', 'adjustment', 'count',
                      'pick', 'ship', 'return', 'write_off', 'production_output',
                      'production_consumption')),
    user_id       integer references users (id),
    device_id     integer references devices (id),
    document_type text,
    document_id   integer,
    deal_id       integer references deals (id),
    note          text,
    reversal_of   integer references stock_movements (id),
    posted_at     text not null
);
create index stock_movements_item on stock_movements (item_id, warehouse_id, id);
create index stock_movements_batch on stock_movements (batch_id);
create index stock_movements_location on stock_movements (location_id, id);
create index stock_movements_deal on stock_movements (deal_id);
create index stock_movements_document on stock_movements (document_type, document_id);
create index stock_movements_posted on stock_movements (posted_at);
-- A movement is reversed at most once (NULLs are distinct on both backends).
create unique index stock_movements_reversal on stock_movements (reversal_of);

-- One row per (item, warehouse, location, batch), updated in the transaction of each movement.
-- batch_key is batch_id or 0 for stock without a batch, so the unique key works with plain
-- columns on both backends; its leading (item_id, warehouse_id) serves balance reads.
create table stock_balances (
    id           integer primary key autoincrement,
    item_id      integer not null references items (id),
    warehouse_id integer not null references warehouses (id),
    location_id  integer not null references locations (id),
    batch_id     integer references batches (id),
    batch_key    integer not null check (batch_key = coalesce(batch_id, 0)),
    on_hand      integer not null check (on_hand >= 0),
    reserved     integer not null default 0 check (reserved >= 0 and reserved <= on_hand),
    updated_at   text not null,
    unique (item_id, warehouse_id, location_id, batch_key)
);
create index stock_balances_location on stock_balances (location_id);
create index stock_balances_batch on stock_balances (batch_id);
