-- Issue 22: one shipment may carry several deals of one customer, and one parcel goods of
-- several of them; every content line keeps its own deal. Kept in lockstep with
-- ../sqlite/0020_consolidated_shipments.sql (which rebuilds parcel_contents to the same effect).
--
-- The deals a shipment carries, each with its share of the cash on delivery. Every shipment has
-- at least its own deal here (shipments.deal_id, kept as the first of them).
create table shipment_deals (
    shipment_id bigint not null references shipments (id),
    deal_id     bigint not null references deals (id),
    cod_amount  bigint check (cod_amount >= 0),
    primary key (shipment_id, deal_id)
);
create index shipment_deals_deal on shipment_deals (deal_id);
insert into shipment_deals (shipment_id, deal_id, cod_amount)
select id, deal_id, cod_amount from shipments;

-- A content line's deal.
alter table parcel_contents add column deal_id bigint references deals (id);
update parcel_contents set deal_id = (select p.deal_id from parcels p where p.id = parcel_contents.parcel_id);
alter table parcel_contents alter column deal_id set not null;
alter table parcel_contents drop constraint parcel_contents_parcel_id_item_id_batch_key_key;
alter table parcel_contents add constraint parcel_contents_parcel_deal_item_batch_key
    unique (parcel_id, deal_id, item_id, batch_key);
create index parcel_contents_deal on parcel_contents (deal_id, item_id, batch_key);

-- Where a deal's goods go (one of its customer's addresses; default the preferred shipping
-- address) and the customer's own reference for it, printed on delivery notes: deals of one
-- customer going to different addresses do not ship together.
alter table deals add column ship_to_address_id bigint references customer_addresses (id);
alter table deals add column customer_reference text;
