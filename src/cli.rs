//! The command line.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ptscope",
    version,
    about = "Look inside a live Linux process through ptrace(2)",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Attach to PID, print every thread (state, stop cause, registers), detach.
    Dump {
        pid: i32,
        /// Machine-readable output (all 27 registers as hex strings).
        #[arg(long)]
        json: bool,
        /// Skip the stack walk (registers and kernel view only).
        #[arg(long)]
        no_backtrace: bool,
    },
    /// Internal: stop PID on a breakpoint at ADDR and rest (tests kill this with SIGKILL).
    #[command(name = "__hold", hide = true)]
    Hold {
        pid: i32,
        #[arg(value_parser = parse_addr)]
        addr: u64,
    },
    /// Internal: run a bundled target program (used by tests and the demo).
    #[command(name = "__target", hide = true)]
    Target {
        name: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// An address as a user types it: 0x-prefixed hex, or decimal.
pub fn parse_addr(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.map_err(|_| format!("not an address: {s:?} (use 0x-prefixed hex or decimal)"))
}
