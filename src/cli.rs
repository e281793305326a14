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
    },
    /// Internal: run a bundled target program (used by tests and the demo).
    #[command(name = "__target", hide = true)]
    Target {
        name: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}
