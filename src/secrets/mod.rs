//! Secret references `${secret:PATH:KEY}`, the resolver chain, and redaction.

pub mod env;
pub mod file;
pub mod openbao;
pub mod redact;
pub mod reference;
pub mod resolve;
pub mod resolver;

pub use reference::{find_refs, SecretRef};
pub use resolver::{Chain, ResolveError, Resolver};
