//! The tracer engine: one thread owns every ptrace call for one process.

pub mod breakpoints;
pub mod error;
pub mod event;
pub mod memory;
pub mod regs;
pub mod signals;
pub mod status;
pub mod thread;
pub mod wakeup;
