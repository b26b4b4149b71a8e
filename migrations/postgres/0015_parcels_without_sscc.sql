-- A parcel always has an identity (printed as DPT-PARCEL-<id>); it has an SSCC only when a GS1
-- Company Prefix is configured, so `sscc` may be null. Kept in lockstep with
-- ../sqlite/0015_parcels_without_sscc.sql (which rebuilds the table to the same effect).
alter table parcels alter column sscc drop not null;
