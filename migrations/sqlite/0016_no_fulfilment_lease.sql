-- A reservation run is one transaction that holds the deal's row (crm::deals::lock) until it
-- commits: the lease columns that let one run per deal work at a time are not needed any more.
alter table deals drop column fulfilment_lease;
alter table deals drop column fulfilment_lease_until;
