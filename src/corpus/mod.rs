//! The run corpus: schema, row assembly, atomic per-run Parquet files, the one scan and the plain
//! table every consumer reads, and the import of sweep tables written elsewhere.

mod cache;
pub mod import;
pub mod record;
pub mod schema;
pub mod store;
pub mod table;

pub use record::RunRecord;
pub use store::{
    CorpusStore, check_writable_dir, ensure_writable_dir, write_atomically, write_bytes_atomically,
};
pub use table::CorpusTable;
