//! Run-wide machinery: the run log, the stack lock, progress output, Ctrl-C handling.

pub mod log;
pub mod logging;
