//! Run-wide machinery: the run log, the stack lock, progress output, Ctrl-C handling.

pub mod interrupt;
pub mod lock;
pub mod log;
pub mod logging;
pub mod progress;
