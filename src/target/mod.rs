//! Programs to be traced, built into the ptscope binary itself (`ptscope __target NAME`), so
//! that tests and `ptscope demo` need no second build and no compiler on the machine.

pub mod addr;
pub mod chain;
pub mod demo;
pub mod hold;
pub mod lab;

/// Runs the named target; returns the process exit code.
pub fn run(name: &str, args: &[String]) -> i32 {
    match name {
        "chain" => chain::run(args),
        "lab" => lab::run(args),
        "demo" => demo::run(args),
        other => {
            eprintln!("ptscope: unknown target {other:?}");
            2
        }
    }
}
