-- Foundation schema: settings, auth, catalog, CRM, idempotency.
-- Kept in lockstep with ../postgres/0001_foundation.sql: same tables, same columns, same names.
-- Ids are integer surrogate keys; quantities are integer base units; money is integer minor units
-- plus an ISO 4217 currency code; timestamps are UTC (TEXT here, timestamptz on PostgreSQL).

create table settings (
    key   text primary key,
    value text not null
);

create table users (
    id            integer primary key autoincrement,
    username      text not null unique,
    password_hash text not null,
    role          text not null check (role in ('admin', 'head', 'rep', 'warehouse')),
    full_name     text not null default '',
    email         text,
    manager_id    integer references users (id),
    active        boolean not null default 1,
    created_at    text not null,
    updated_at    text not null
);
create index users_manager on users (manager_id);

create table devices (
    id           integer primary key autoincrement,
    name         text not null,
    kind         text not null check (kind in ('scanner', 'printer')),
    profile      text not null,
    address      text,
    token_hash   text not null unique,
    created_by   integer references users (id),
    created_at   text not null,
    revoked_at   text,
    last_seen_at text
);

create table suppliers (
    id             integer primary key autoincrement,
    code           text not null unique,
    name           text not null,
    email          text,
    phone          text,
    lead_time_days integer,
    created_at     text not null,
    updated_at     text not null
);

create table items (
    id                            integer primary key autoincrement,
    code                          text not null unique,
    name                          text not null,
    unit                          text not null,
    tracking                      text not null check (tracking in ('none', 'batch', 'serial')),
    shelf_life_days               integer,
    min_remaining_shelf_life_days integer,
    source                        text not null check (source in ('manufactured', 'purchased')),
    supplier_id                   integer references suppliers (id),
    requires_certificate          boolean not null default 0,
    lead_time_days                integer,
    created_at                    text not null,
    updated_at                    text not null
);
create index items_supplier on items (supplier_id);

-- One GTIN per packaging level; a GTIN belongs to exactly one item (primary key).
create table item_gtins (
    gtin     text primary key,
    item_id  integer not null references items (id),
    quantity integer not null check (quantity > 0)
);
create index item_gtins_item on item_gtins (item_id);

-- Bill of materials: base units of the component needed for one base unit of the parent.
create table bom_lines (
    parent_item_id    integer not null references items (id),
    component_item_id integer not null references items (id),
    quantity          integer not null check (quantity > 0),
    primary key (parent_item_id, component_item_id)
);

create table warehouses (
    id                  integer primary key autoincrement,
    code                text not null unique,
    name                text not null,
    address             text not null default '',
    responsible_user_id integer references users (id),
    created_at          text not null,
    updated_at          text not null
);

create table locations (
    id            integer primary key autoincrement,
    warehouse_id  integer not null references warehouses (id),
    code          text not null,
    barcode       text not null unique,
    pick_sequence integer not null default 0,
    created_at    text not null,
    updated_at    text not null,
    unique (warehouse_id, code)
);

create table customers (
    id          integer primary key autoincrement,
    legal_name  text not null,
    tax_id      text,
    kind        text not null check (kind in ('company', 'person')),
    source      text,
    tags        text not null default '[]',
    owner_id    integer references users (id),
    public      boolean not null default 0,
    phone       text,
    phone_norm  text,
    email       text,
    email_norm  text,
    -- lower-cased legal name and tax id, computed in Rust so that substring search behaves the
    -- same on both backends (SQLite's lower() folds ASCII only)
    search_text text not null default '',
    created_at  text not null,
    updated_at  text not null
);
create index customers_owner on customers (owner_id);
create index customers_phone on customers (phone_norm);
create index customers_email on customers (email_norm);

create table customer_addresses (
    id                 integer primary key autoincrement,
    customer_id        integer not null references customers (id),
    label              text not null default '',
    line1              text not null,
    line2              text,
    city               text not null,
    postal_code        text,
    region             text,
    country            text not null,
    preferred_shipping boolean not null default 0,
    preferred_billing  boolean not null default 0
);
create index customer_addresses_customer on customer_addresses (customer_id);
-- At most one preferred shipping and one preferred billing address per customer.
create unique index customer_addresses_shipping on customer_addresses (customer_id) where preferred_shipping;
create unique index customer_addresses_billing on customer_addresses (customer_id) where preferred_billing;

create table contacts (
    id          integer primary key autoincrement,
    customer_id integer not null references customers (id),
    name        text not null,
    position    text,
    phone       text,
    phone_norm  text,
    email       text,
    email_norm  text,
    is_primary  boolean not null default 0,
    created_at  text not null,
    updated_at  text not null
);
create index contacts_customer on contacts (customer_id);
-- At most one primary contact per customer.
create unique index contacts_primary on contacts (customer_id) where is_primary;
create index contacts_phone on contacts (phone_norm);
create index contacts_email on contacts (email_norm);

create table customer_transfers (
    id             integer primary key autoincrement,
    customer_id    integer not null references customers (id),
    from_user_id   integer references users (id),
    to_user_id     integer not null references users (id),
    by_user_id     integer not null references users (id),
    note           text,
    transferred_at text not null
);
create index customer_transfers_customer on customer_transfers (customer_id);

create table deal_stages (
    code     text primary key,
    name     text not null,
    position integer not null,
    active   boolean not null default 1
);
insert into deal_stages (code, name, position) values
    ('selection', 'Selection', 10),
    ('production', 'Production', 20),
    ('sale_from_stock', 'Sale from stock', 30),
    ('commissioning', 'Commissioning', 40),
    ('service', 'Service', 50);

create table leads (
    id               integer primary key autoincrement,
    name             text not null,
    phone            text,
    phone_norm       text,
    email            text,
    email_norm       text,
    source           text,
    note             text,
    assigned_to      integer references users (id),
    customer_id      integer references customers (id),
    contact_id       integer references contacts (id),
    status           text not null check (status in ('new', 'attached', 'converted')),
    deal_id          integer,
    created_by       integer references users (id),
    created_at       text not null,
    updated_at       text not null
);
create index leads_assigned on leads (assigned_to);
create index leads_customer on leads (customer_id);

create table deals (
    id          integer primary key autoincrement,
    customer_id integer not null references customers (id),
    owner_id    integer not null references users (id),
    title       text not null,
    stage       text not null references deal_stages (code),
    status      text not null check (status in ('open', 'won', 'lost')),
    lost_reason text,
    currency    text not null,
    lead_id     integer references leads (id),
    created_at  text not null,
    updated_at  text not null,
    closed_at   text
);
create index deals_owner on deals (owner_id);
create index deals_customer on deals (customer_id);

create table deal_lines (
    id         integer primary key autoincrement,
    deal_id    integer not null references deals (id),
    line_no    integer not null,
    item_id    integer not null references items (id),
    quantity   integer not null check (quantity > 0),
    unit_price integer not null check (unit_price >= 0),
    unique (deal_id, line_no)
);
create index deal_lines_item on deal_lines (item_id);

-- Responses to mutations carrying an Idempotency-Key, per principal. status is null while the
-- first request is still running.
create table idempotency_keys (
    principal     text not null,
    idem_key      text not null,
    request_hash  text not null,
    status        integer,
    content_type  text,
    response_body text,
    created_at    text not null,
    primary key (principal, idem_key)
);
