//! SSCC generation: to be written.
