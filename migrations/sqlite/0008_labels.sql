-- The serial counter SSCCs are made from, per GS1 Company Prefix and extension digit: each
-- SSCC takes the next serial in one atomic upsert, so none repeats.
-- Kept in lockstep with ../postgres/0008_labels.sql.
create table sscc_counters (
    company_prefix  text not null,
    extension_digit integer not null check (extension_digit between 0 and 9),
    last_serial     integer not null check (last_serial > 0),
    primary key (company_prefix, extension_digit)
);
