//! Label HTTP handlers: to be written.
