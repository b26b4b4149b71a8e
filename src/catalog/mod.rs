//! Master data: items with their GTINs and bills of materials, suppliers, warehouses and bins.

pub mod api;
pub mod gtin;
pub mod items;
pub mod suppliers;
pub mod warehouses;
