-- Receipts are documents of their own: every receipt has an id, and its movements name it
-- (document_type 'receipt'). A receipt against a purchase or production order links the order.
-- Kept in lockstep with ../postgres/0014_hardening.sql.
create table receipts (
    id                  integer primary key autoincrement,
    warehouse_id        integer not null references warehouses (id),
    location_id         integer not null references locations (id),
    purchase_order_id   integer references purchase_orders (id),
    production_order_id integer references production_orders (id),
    deal_id             integer references deals (id),
    quarantine          boolean not null default 0,
    note                text,
    user_id             integer references users (id),
    device_id           integer references devices (id),
    created_at          text not null
);
create index receipts_purchase_order on receipts (purchase_order_id);
