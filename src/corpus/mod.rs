//! The run corpus: schema, row assembly, atomic per-run Parquet files and the one scan.

pub mod record;
pub mod schema;
pub mod store;

pub use record::RunRecord;
pub use store::{CorpusStore, ensure_writable_dir, write_atomically, write_bytes_atomically};
