//! The command line.

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ptscope",
    version,
    about = "Look inside a live Linux process through ptrace(2)",
    long_about = "Look inside a live Linux process through ptrace(2).\n\n\
        ptscope PID            attach to a running process and open the inspector\n\
        ptscope -- CMD ARGS    start CMD under the tracer and open the inspector\n\
        ptscope demo           the inspector on a bundled demo program\n\
        ptscope dump PID       why it is hung: deadlocks, lock holders, stack groups; then detach\n\
        ptscope core PID       a core file gdb opens (core.PID), the process paused only to copy\n\
        ptscope trace PID LOC  log every call of LOC (args, caller, thread), never stopping it\n\n\
        Quitting the inspector (q) removes every breakpoint and detaches, leaving an attached \
        process running as before; a program ptscope started is killed.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    /// Process to attach to.
    #[arg(conflicts_with = "program")]
    pub pid: Option<i32>,
    /// Program to start under the tracer, after `--`.
    #[arg(last = true, id = "program", value_name = "CMD ARGS")]
    pub program: Vec<String>,
    /// Stop every thread when one is born or exits (otherwise those are only logged).
    #[arg(long)]
    pub stop_on_thread_events: bool,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Attach to PID, say why it is hung, detach.
    #[command(
        long_about = "Attach to PID, stop it for a moment, say why it is hung, detach: \
        the process runs on as before.\n\n\
        By default, for a process of any size: a summary line (how many threads run, wait on \
        each kind of thing, are in a deadlock), every deadlock with the lock each thread waits \
        for, who holds it and where in the code, lock waits by holder (the thread at the root \
        of each chain and what it waits on itself), then the threads grouped by identical \
        stack, largest group first, each stack printed once.\n\n\
        --all adds every thread in full (kernel view, what it waits on, registers, backtrace); \
        --json prints all of it for scripts."
    )]
    Dump {
        pid: i32,
        /// Machine-readable output: every thread (all 27 registers as hex strings, kernel view,
        /// frames, waits) plus summary, deadlocks and stack groups.
        #[arg(long)]
        json: bool,
        /// Skip the stack walk (registers and kernel view only; locks are then told from the
        /// futex operation alone, so most show as plain futexes).
        #[arg(long)]
        no_backtrace: bool,
        /// After the analysis, print every thread in full.
        #[arg(long)]
        all: bool,
        /// No analysis: only every thread in full, as `thread apply all bt` would.
        #[arg(long)]
        no_analysis: bool,
        /// The most CPUs the dump keeps busy at once (default: all but one, at least one, so
        /// that the process examined always finds a CPU free).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        cpus: Option<u16>,
        /// Neither read nor write the answers kept between dumps (symbol names and source
        /// lines per file build id, in $XDG_CACHE_HOME/ptscope/answers or ~/.cache/...):
        /// parse every mapped file afresh.
        #[arg(long)]
        no_cache: bool,
    },
    /// Write a core file of PID (like gcore) that gdb opens; the process is stopped only while
    /// its memory is copied, then runs on untraced.
    Core {
        pid: i32,
        /// Output file (default core.PID in the current directory; a directory means DIR/core.PID).
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        /// Write the file while the process stays stopped, with no copy in memory (for when
        /// memory is short; the pause then lasts as long as the disk takes).
        #[arg(long)]
        stream: bool,
    },
    /// Log every hit of each location (time, thread, location, rdi rsi rdx rcx r8 r9, caller)
    /// without stopping the process, then a per-thread count summary; restores every byte and
    /// detaches at the end.
    #[command(
        long_about = "Log every hit of each LOCATION in process PID without stopping it: \
        time, thread id and name, location, the argument registers rdi rsi rdx rcx r8 r9, and \
        the caller (for a function's entry). A per-thread count summary ends the trace.\n\n\
        LOCATION is a breakpoint as the inspector's `b` takes it: `name`, `lib!name`, \
        `name+0x10`, `0xADDR`, optionally with `if EXPR` (trace only hits where it holds), \
        `ignore N` or `log \"text {rdi} {*rsi:d}\"` (print that line instead); quote it as one \
        argument.\n\n\
        It ends after --for, on Ctrl-C (SIGINT, SIGTERM, SIGHUP) or when the process exits; \
        every byte is put back and the process detached, running on as before."
    )]
    Trace {
        pid: i32,
        #[arg(required = true, value_name = "LOCATION")]
        locations: Vec<String>,
        /// Stop tracing after this many seconds.
        #[arg(long = "for", value_name = "SECONDS")]
        seconds: Option<f64>,
        /// JSON Lines: one object per hit ("tid", "location", "args", ...), a summary last.
        #[arg(long)]
        json: bool,
    },
    /// Open the inspector on a bundled demo program (workers, a lock, threads born and dying,
    /// a handled signal); the demo is killed when you quit.
    Demo {
        /// Stop every thread when one is born or exits (otherwise those are only logged).
        #[arg(long)]
        stop_on_thread_events: bool,
    },
    /// Internal: stop PID on a breakpoint at ADDR and rest (tests kill this with SIGKILL).
    #[command(name = "__hold", hide = true)]
    Hold {
        pid: i32,
        #[arg(value_parser = parse_addr)]
        addr: u64,
        /// A write watchpoint on ADDR instead of a breakpoint.
        #[arg(long)]
        watch: bool,
    },
    /// Internal: run a bundled program to trace (used by tests and the demo).
    #[command(name = "__demo", hide = true)]
    Program {
        name: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// An address as a user types it: 0x-prefixed hex, or decimal.
pub fn parse_addr(s: &str) -> Result<u64, String> {
    crate::expr::parse_number(s)
        .map_err(|_| format!("not an address: {s:?} (use 0x-prefixed hex or decimal)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ptscope").chain(args.iter().copied()))
    }

    #[test]
    fn command_shapes() {
        let c = parse(&["1234"]).unwrap();
        assert_eq!((c.pid, c.command.is_none()), (Some(1234), true));
        let c = parse(&["--", "sleep", "--flag", "5"]).unwrap();
        assert_eq!(c.program, ["sleep", "--flag", "5"]);
        assert_eq!(c.pid, None);
        assert!(matches!(
            parse(&["demo"]).unwrap().command,
            Some(Cmd::Demo { .. })
        ));
        let c = parse(&["dump", "77", "--json"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Cmd::Dump {
                pid: 77,
                json: true,
                ..
            })
        ));
        assert!(matches!(
            parse(&["dump", "77", "--cpus", "3"]).unwrap().command,
            Some(Cmd::Dump { cpus: Some(3), .. })
        ));
        assert!(
            parse(&["dump", "77", "--cpus", "0"]).is_err(),
            "a dump needs at least one CPU"
        );
        let c = parse(&["core", "77", "-o", "/tmp/x"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Cmd::Core { pid: 77, output: Some(ref p), stream: false }) if p.as_os_str() == "/tmp/x"
        ));
        let c = parse(&["__demo", "demo", "--seconds", "3"]).unwrap();
        match c.command {
            Some(Cmd::Program { name, args }) => {
                assert_eq!(
                    (name.as_str(), args.as_slice()),
                    ("demo", &["--seconds".to_string(), "3".to_string()][..])
                )
            }
            other => panic!("{other:?}"),
        }
        assert!(
            parse(&["12", "--", "ls"]).is_err(),
            "a PID and a program at once"
        );
        assert!(parse(&["notapid"]).is_err());
    }

    #[test]
    fn help_lists_every_mode() {
        let help = <Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for word in ["ptscope PID", "-- CMD ARGS", "demo", "dump", "core"] {
            assert!(help.contains(word), "{word} missing from:\n{help}");
        }
        assert!(!help.contains("__demo"));
    }

    #[test]
    fn addresses_are_hex_or_decimal() {
        assert_eq!(parse_addr("0x401136"), Ok(0x401136));
        assert_eq!(parse_addr(" 4198710 "), Ok(4198710));
        let err = parse_addr("rip").unwrap_err();
        assert_eq!(
            err,
            "not an address: \"rip\" (use 0x-prefixed hex or decimal)"
        );
        assert!(parse(&["__hold", "1", "0x10"]).is_ok());
        assert!(parse(&["__hold", "1", "0xzz"]).is_err());
    }
}
