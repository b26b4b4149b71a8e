-- The printers a warehouse prints to when a shipment is dispatched (or reprinted): parcels'
-- logistic labels on the label printer, the delivery note on the document printer. Both are
-- devices of kind 'printer' (checked by the application, with the field named in the error).
-- Kept in lockstep with ../postgres/0011_dispatch_printing.sql.
alter table warehouses add column label_printer_id integer references devices (id);
alter table warehouses add column document_printer_id integer references devices (id);
