//! The run corpus: schema, row assembly, atomic per-run Parquet files, the one scan and the plain
//! table every consumer reads, the import of sweep tables written elsewhere, claims between
//! concurrent writers and the quarantine of damaged parts.

mod cache;
pub mod claims;
pub mod import;
pub mod quarantine;
pub mod record;
pub mod schema;
pub mod store;
pub mod table;

pub use record::RunRecord;
pub use store::{
    CorpusStore, check_writable_dir, ensure_writable_dir, write_atomically, write_bytes_atomically,
};
pub use table::CorpusTable;
