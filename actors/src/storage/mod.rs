//! Durable worker-side state.

mod file_offsets;

pub use file_offsets::{FileOffsetStore, OffsetStoreError};
