-- Deals to stock: reservations, production orders and purchase orders raised for shortfalls.
-- Kept in lockstep with ../postgres/0006_fulfilment.sql.

-- The warehouse a deal is fulfilled from (remembered from its first reservation), and a
-- fulfilment lease so that one reservation run per deal works at a time.
alter table deals add column warehouse_id integer references warehouses (id);
alter table deals add column fulfilment_lease text;
alter table deals add column fulfilment_lease_until text;
-- The customer's required remaining shelf life on delivery, in days.
alter table customers add column min_remaining_shelf_life_days integer;

create table production_orders (
    id             integer primary key autoincrement,
    item_id        integer not null references items (id),
    warehouse_id   integer not null references warehouses (id),
    quantity       integer not null check (quantity >= 0),
    produced       integer not null default 0 check (produced >= 0),
    status         text not null default 'planned'
                   check (status in ('planned', 'released', 'in_progress', 'done', 'cancelled')),
    -- Set when a started order lost (some of) its demand: someone decides, nothing is dropped.
    needs_decision boolean not null default 0,
    decision_note  text,
    planned_date   text,
    started_at     text,
    finished_at    text,
    certificate    text,
    created_at     text not null,
    updated_at     text not null
);
create index production_orders_status on production_orders (status, id);
create index production_orders_item on production_orders (item_id, status);

-- Components from the item's bill of materials, per finished unit.
create table production_components (
    id                  integer primary key autoincrement,
    production_order_id integer not null references production_orders (id),
    item_id             integer not null references items (id),
    quantity_per        integer not null check (quantity_per > 0),
    consumed            integer not null default 0 check (consumed >= 0),
    unique (production_order_id, item_id)
);

create table purchase_orders (
    id             integer primary key autoincrement,
    supplier_id    integer not null references suppliers (id),
    warehouse_id   integer not null references warehouses (id),
    -- open: collecting lines; ordered: sent to the supplier; received: complete.
    status         text not null default 'open'
                   check (status in ('open', 'ordered', 'received', 'cancelled')),
    needs_decision boolean not null default 0,
    decision_note  text,
    expected_date  text,
    note           text,
    created_at     text not null,
    updated_at     text not null
);
-- One open purchase order per supplier and warehouse collects the lines of many deals.
create unique index purchase_orders_open on purchase_orders (supplier_id, warehouse_id)
    where status = 'open';

create table purchase_order_lines (
    id                integer primary key autoincrement,
    purchase_order_id integer not null references purchase_orders (id),
    item_id           integer not null references items (id),
    quantity          integer not null check (quantity >= 0),
    received          integer not null default 0 check (received >= 0),
    expected_date     text,
    unique (purchase_order_id, item_id)
);

-- What an order is for: a deal line, or a component of a production order. `allocated` is how
-- much of the order's output has been reserved for it.
create table supply_demands (
    id                     integer primary key autoincrement,
    production_order_id    integer references production_orders (id),
    purchase_order_line_id integer references purchase_order_lines (id),
    deal_id                integer references deals (id),
    -- No foreign key: a removed line's demand is found and reduced by the next reservation run.
    deal_line_id           integer,
    for_production_order_id integer references production_orders (id),
    item_id                integer not null references items (id),
    quantity               integer not null check (quantity >= 0),
    allocated              integer not null default 0 check (allocated >= 0),
    created_at             text not null,
    check ((production_order_id is null) <> (purchase_order_line_id is null)),
    check ((deal_line_id is null) <> (for_production_order_id is null))
);
create index supply_demands_deal on supply_demands (deal_id);
create index supply_demands_production on supply_demands (production_order_id);
create index supply_demands_purchase on supply_demands (purchase_order_line_id);
create index supply_demands_component on supply_demands (for_production_order_id);

-- Stock held for a deal line or for a production order's component, on one balance. The sum per
-- balance equals stock_balances.reserved (maintained in the same transaction; checked by the
-- consistency check).
create table reservations (
    id                  integer primary key autoincrement,
    deal_id             integer references deals (id),
    deal_line_id        integer,
    production_order_id integer references production_orders (id),
    item_id             integer not null references items (id),
    warehouse_id        integer not null references warehouses (id),
    location_id         integer not null references locations (id),
    batch_id            integer references batches (id),
    batch_key           integer not null check (batch_key = coalesce(batch_id, 0)),
    quantity            integer not null check (quantity >= 0),
    expires_at          text,
    created_at          text not null,
    updated_at          text not null,
    check ((deal_line_id is null) <> (production_order_id is null))
);
create index reservations_deal on reservations (deal_id, deal_line_id);
create index reservations_order on reservations (production_order_id);
create index reservations_balance on reservations (item_id, warehouse_id, location_id, batch_key);
create index reservations_expiry on reservations (expires_at);
