-- Issue 22: one shipment may carry several deals of one customer, and one parcel goods of
-- several of them; every content line keeps its own deal. Kept in lockstep with
-- ../postgres/0020_consolidated_shipments.sql.
--
-- The deals a shipment carries, each with its share of the cash on delivery. Every shipment has
-- at least its own deal here (shipments.deal_id, kept as the first of them).
create table shipment_deals (
    shipment_id integer not null references shipments (id),
    deal_id     integer not null references deals (id),
    cod_amount  integer check (cod_amount >= 0),
    primary key (shipment_id, deal_id)
);
create index shipment_deals_deal on shipment_deals (deal_id);
insert into shipment_deals (shipment_id, deal_id, cod_amount)
select id, deal_id, cod_amount from shipments;

-- A content line's deal. SQLite cannot change a table's unique constraint, so the table is
-- rebuilt (nothing refers to it and no sync trigger covers it, so this runs in the migration's
-- own transaction with foreign keys on).
create table parcel_contents_rebuilt (
    id        integer primary key autoincrement,
    parcel_id integer not null references parcels (id),
    deal_id   integer not null references deals (id),
    item_id   integer not null references items (id),
    batch_id  integer references batches (id),
    batch_key integer not null check (batch_key = coalesce(batch_id, 0)),
    quantity  integer not null check (quantity > 0),
    unique (parcel_id, deal_id, item_id, batch_key)
);
insert into parcel_contents_rebuilt (id, parcel_id, deal_id, item_id, batch_id, batch_key, quantity)
select c.id, c.parcel_id, p.deal_id, c.item_id, c.batch_id, c.batch_key, c.quantity
from parcel_contents c join parcels p on p.id = c.parcel_id;
drop table parcel_contents;
alter table parcel_contents_rebuilt rename to parcel_contents;
create index parcel_contents_deal on parcel_contents (deal_id, item_id, batch_key);

-- Where a deal's goods go (one of its customer's addresses; default the preferred shipping
-- address) and the customer's own reference for it, printed on delivery notes: deals of one
-- customer going to different addresses do not ship together.
alter table deals add column ship_to_address_id integer references customer_addresses (id);
alter table deals add column customer_reference text;
