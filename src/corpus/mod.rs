//! The run corpus: schema, row assembly, atomic per-run Parquet files and the compacted files that
//! merge them, the one scan and the plain table every consumer reads, the import of sweep tables
//! written elsewhere, claims between concurrent writers, the quarantine of damaged parts, and
//! `lrcast corpus verify` / `compact`.

mod cache;
pub mod claims;
pub mod compact;
pub mod compacted;
pub mod import;
pub mod quarantine;
pub mod record;
pub mod schema;
pub mod store;
pub mod table;
pub mod verify;

pub use record::RunRecord;
pub use store::{
    CorpusStore, check_writable_dir, ensure_writable_dir, write_atomically, write_bytes_atomically,
};
pub use table::CorpusTable;
