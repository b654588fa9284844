//! Secret references `${secret:PATH:KEY}` and the resolver chain. The backends here are the
//! local ones (environment, `~/.foundryvars`); OpenBao's resolver lives beside its client
//! (`openbao::resolver`) and is pushed onto the chain by the caller. Redaction is below all of
//! this, at `crate::redact` (re-exported here for older paths).

pub mod env;
pub mod file;
pub mod reference;
pub mod resolve;
pub mod resolver;

pub use crate::redact;
pub use reference::{find_refs, SecretRef};
pub use resolver::{Chain, ResolveError, Resolver};

/// The local chain: environment variables, then `~/.foundryvars`.
pub fn standard_chain() -> Chain {
    let mut c = Chain::empty();
    c.push(Box::new(env::EnvResolver));
    c.push(Box::new(file::FileResolver::default_path()));
    c
}
