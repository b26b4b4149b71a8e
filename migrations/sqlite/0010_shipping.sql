-- Parcels (each with its SSCC, pallets holding parcels) and shipments to a deal's customer,
-- with every status change kept. Kept in lockstep with ../postgres/0010_shipping.sql.
create table shipments (
    id               integer primary key autoincrement,
    deal_id          integer not null references deals (id),
    warehouse_id     integer not null references warehouses (id),
    status           text not null default 'draft' check (status in ('draft', 'packed',
                         'dispatched', 'in_transit', 'delivered', 'failed_delivery', 'returned')),
    carrier          text not null,
    service_level    text not null check (service_level in ('express', 'economy')),
    tracking_number  text,
    ship_to_name     text not null,
    ship_to_address  text not null,
    cod_amount       integer check (cod_amount > 0),
    cod_currency     text,
    cod_collected_at text,
    paid_by          text not null check (paid_by in ('sender', 'recipient')),
    created_by       integer references users (id),
    created_at       text not null,
    updated_at       text not null
);
create index shipments_deal on shipments (deal_id);
create unique index shipments_tracking on shipments (carrier, tracking_number);

create table shipment_events (
    id          integer primary key autoincrement,
    shipment_id integer not null references shipments (id),
    status      text not null,
    source      text not null check (source in ('api', 'carrier')),
    note        text,
    at          text not null
);
create index shipment_events_shipment on shipment_events (shipment_id, id);

create table parcels (
    id           integer primary key autoincrement,
    deal_id      integer not null references deals (id),
    warehouse_id integer not null references warehouses (id),
    shipment_id  integer references shipments (id),
    -- A pallet holding this parcel (nesting), itself a parcel with its own SSCC.
    parent_id    integer references parcels (id),
    sscc         text not null unique,
    package_type text not null,
    weight_g     integer check (weight_g > 0),
    length_mm    integer check (length_mm > 0),
    width_mm     integer check (width_mm > 0),
    height_mm    integer check (height_mm > 0),
    created_at   text not null
);
create index parcels_deal on parcels (deal_id);
create index parcels_shipment on parcels (shipment_id);

create table parcel_contents (
    id        integer primary key autoincrement,
    parcel_id integer not null references parcels (id),
    item_id   integer not null references items (id),
    batch_id  integer references batches (id),
    batch_key integer not null check (batch_key = coalesce(batch_id, 0)),
    quantity  integer not null check (quantity > 0),
    unique (parcel_id, item_id, batch_key)
);
