-- Cycle counts and customer returns. Kept in lockstep with ../postgres/0005_counts_returns.sql.

create table stock_counts (
    id           integer primary key autoincrement,
    warehouse_id integer not null references warehouses (id),
    status       text not null default 'open' check (status in ('open', 'closed', 'cancelled')),
    note         text,
    -- Bumped by every recorded count line; closing requires the version it read (optimistic
    -- concurrency: a line recorded while closing makes the close retry, it is never lost).
    version      integer not null default 0,
    created_by   integer references users (id),
    created_at   text not null,
    closed_by    integer references users (id),
    closed_at    text
);
create index stock_counts_status on stock_counts (status, id);

-- The locations of a count. started_at is when counting the location began: its balances were
-- copied into stock_count_lines (expected) at that moment. is_open is 1 while the count is open
-- and NULL afterwards, so the unique index allows one open count per location (NULLs are
-- distinct on both backends).
create table stock_count_locations (
    id          integer primary key autoincrement,
    count_id    integer not null references stock_counts (id),
    location_id integer not null references locations (id),
    is_open     integer check (is_open = 1),
    started_at  text,
    unique (count_id, location_id)
);
create unique index stock_count_locations_open on stock_count_locations (location_id, is_open);

-- The location each counter (a user or device) is counting now: scanning a location sets it,
-- scanning goods counts them there.
create table stock_count_cursors (
    count_id    integer not null references stock_counts (id),
    counter     text not null,
    location_id integer not null references locations (id),
    primary key (count_id, counter)
);

-- What was expected (on hand when the location's counting started) and what was counted (NULL
-- until seen; a started location's unseen stock counts as zero at close).
create table stock_count_lines (
    id          integer primary key autoincrement,
    count_id    integer not null references stock_counts (id),
    location_id integer not null references locations (id),
    item_id     integer not null references items (id),
    batch_id    integer references batches (id),
    batch_key   integer not null check (batch_key = coalesce(batch_id, 0)),
    expected    integer not null check (expected >= 0),
    counted     integer check (counted >= 0),
    counted_at  text,
    counted_by  integer references users (id),
    counted_by_device integer references devices (id),
    unique (count_id, location_id, item_id, batch_key)
);

-- A customer return: goods from a deal (and, once shipping exists, its shipment) coming back.
-- Its lines are the ledger movements with document_type 'return' and this id.
create table stock_returns (
    id           integer primary key autoincrement,
    deal_id      integer not null references deals (id),
    shipment_id  integer,
    warehouse_id integer not null references warehouses (id),
    location_id  integer not null references locations (id),
    status       text not null default 'draft' check (status in ('draft', 'posted')),
    note         text,
    created_by   integer references users (id),
    created_by_device integer references devices (id),
    created_at   text not null
);
create index stock_returns_deal on stock_returns (deal_id);

-- FEFO reads an item's available stock in a warehouse in expiry order. Each balance carries its
-- batch's expiry date (fixed when the batch is created) so that one partial index, holding only
-- balances with something available, serves that read in order: depleted balances and batches
-- of the past are never walked.
alter table stock_balances add column expiry_date text;
update stock_balances set expiry_date = (select expiry_date from batches where batches.id = stock_balances.batch_id);
create index stock_balances_fefo on stock_balances (item_id, warehouse_id, expiry_date)
    where on_hand > reserved;
