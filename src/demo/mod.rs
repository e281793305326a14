//! Programs to be traced, built into the ptscope binary itself (`ptscope __demo NAME`), so
//! that tests and `ptscope demo` need no second build and no compiler on the machine.

pub mod addr;
pub mod chain;
pub mod heap;
pub mod hold;
pub mod hung;
pub mod lab;
pub mod service;
pub mod steps;

/// Runs the named program; returns the process exit code.
pub fn run(name: &str, args: &[String]) -> i32 {
    match name {
        "chain" => chain::run(args),
        "heap" => heap::run(args),
        "lab" => lab::run(args),
        "demo" => service::run(args),
        "steps" => steps::run(args),
        name if name.starts_with("hung-") => hung::run(name, args),
        other => {
            eprintln!("ptscope: unknown demo program {other:?}");
            2
        }
    }
}
