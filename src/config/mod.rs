//! stack.yaml: schema, loading with locations, validation, editing.

pub mod edit;
pub mod init;
pub mod load;
pub mod locate;
pub mod mask;
pub mod net;
pub mod path;
pub mod schema;
pub mod span;
pub mod suggest;
pub mod tree;
pub mod validate;

pub use load::{load, ConfigError, Loaded};
pub use schema::*;
