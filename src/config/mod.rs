//! stack.yaml: schema, loading with locations, validation, editing.

pub mod schema;
pub use schema::*;
