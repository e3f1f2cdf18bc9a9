//! What people read: run summaries in text and JSON.

pub mod summary;
