-- Scanning: barcode aliases (codes that are not GTINs but name an item) and the scan log.
-- Kept in lockstep with ../postgres/0002_scanning.sql.

create table barcode_aliases (
    code       text primary key,
    item_id    integer not null references items (id),
    quantity   integer not null default 1 check (quantity > 0),
    created_at text not null
);
create index barcode_aliases_item on barcode_aliases (item_id);

-- Every scan, refused ones included: who, which device, what came in, what it meant.
create table scans (
    id         integer primary key autoincrement,
    user_id    integer references users (id),
    device_id  integer references devices (id),
    profile    text,
    raw        text not null,
    data       text not null,
    kind       text not null,
    symbology  text,
    accepted   boolean not null,
    error      text,
    matches    text not null default '[]',
    created_at text not null
);
create index scans_created on scans (created_at);
create index scans_kind on scans (kind, id);
