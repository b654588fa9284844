//! stack.yaml: schema, loading with locations, validation, editing.

pub mod check;
pub(crate) mod de;
pub mod edit;
pub mod init;
pub mod legacy;
pub mod load;
pub mod locate;
pub mod mask;
pub mod net;
pub mod path;
pub mod schema;
pub mod service_file;
pub mod shown;
pub mod span;
pub mod suggest;
pub mod text;
pub mod tree;
pub mod validate;

pub use load::{load, ConfigError, Loaded};
pub use schema::*;
