//! ptscope: look inside a live Linux process through ptrace(2).

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
compile_error!("ptscope works on Linux x86-64 only: it speaks the amd64 ptrace register set.");

pub mod analysis;
pub mod cli;
pub mod coredump;
pub mod demo;
pub mod disasm;
pub mod dump;
pub mod expr;
pub mod procinfo;
pub mod quit_signals;
pub mod regs;
pub mod symbols;
pub mod text;
pub mod trace;
pub mod tracer;
pub mod ui;
