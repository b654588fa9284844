//! Secret references `${secret:PATH:KEY}`, the resolver chain, and redaction.

pub mod redact;
