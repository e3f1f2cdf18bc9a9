//! What people read: run summaries in text and JSON, standard output that
//! survives a closed pipe, and output files written atomically.

pub mod atomic;
pub mod console;
pub mod html;
pub mod replay;
pub mod summary;
