-- no-transaction
-- A parcel always has an identity (printed as DPT-PARCEL-<id>); it has an SSCC only when a GS1
-- Company Prefix is configured, so `sscc` may be null. SQLite cannot drop a NOT NULL, so the
-- table is rebuilt (https://www.sqlite.org/lang_altertable.html#otheralter): foreign keys are
-- switched off around the rebuild, which is why this migration runs outside sqlx's transaction
-- and opens its own. Kept in lockstep with ../postgres/0015_parcels_without_sscc.sql.
pragma foreign_keys = off;
begin;
create table parcels_rebuilt (
    id           integer primary key autoincrement,
    deal_id      integer not null references deals (id),
    warehouse_id integer not null references warehouses (id),
    shipment_id  integer references shipments (id),
    -- A pallet holding this parcel (nesting), itself a parcel.
    parent_id    integer references parcels (id),
    sscc         text unique,
    package_type text not null,
    weight_g     integer check (weight_g > 0),
    length_mm    integer check (length_mm > 0),
    width_mm     integer check (width_mm > 0),
    height_mm    integer check (height_mm > 0),
    created_at   text not null
);
insert into parcels_rebuilt (id, deal_id, warehouse_id, shipment_id, parent_id, sscc,
                             package_type, weight_g, length_mm, width_mm, height_mm, created_at)
select id, deal_id, warehouse_id, shipment_id, parent_id, sscc, package_type, weight_g,
       length_mm, width_mm, height_mm, created_at
from parcels;
drop table parcels;
alter table parcels_rebuilt rename to parcels;
create index parcels_deal on parcels (deal_id);
create index parcels_shipment on parcels (shipment_id);
commit;
pragma foreign_keys = on;
