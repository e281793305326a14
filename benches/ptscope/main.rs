//! `cargo bench --bench ptscope`: ptscope against the raw ptrace limit and gdb, one table.
//!
//! Arguments (after `--`): figure numbers to run only those (e.g. `2 3`), `--quick` for a
//! short smoke run with fewer repetitions.

mod figures;
mod gdb;
mod lab;
// What the kernel says about a process, read as the tests read it (one file for both).
#[path = "../../tests/common/observe.rs"]
mod observe;
mod pts;
mod raw;
mod snapshot;
mod storm;
mod table;
mod trace;
mod ui;

use figures::Plan;
use std::time::Instant;

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    format!("{cores} cores, {cpu}, Linux {kernel}")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only: Vec<u32> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let wanted = |n: u32| only.is_empty() || only.contains(&n);
    let gdb_version = gdb::available();
    let plan = Plan {
        reps: if quick { 2 } else { 5 },
        gdb_reps: if quick { 1 } else { 3 },
        gdb: gdb_version.is_some(),
        quick,
    };
    figures::install_wake_signal();
    // Every `ptscope dump` of the run keeps its answers (symbols/remembered.rs) in a
    // directory of its own, which starts empty: what the run measures does not depend on
    // what earlier dumps on this machine left, and the cold rows (`--no-cache`) say what a
    // first dump of a build costs.
    let answers = std::env::temp_dir().join(format!("ptscope-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&answers);
    // Set before any thread of this run exists.
    std::env::set_var("XDG_CACHE_HOME", &answers);
    // As ptscope's own main does: tracee stops must not interrupt this thread's sleeps.
    ptscope::tracer::keep_child_signals_for_tracers().expect("block SIGCHLD");
    println!("ptscope benchmark: {}", machine());
    match &gdb_version {
        Some(v) => println!("gdb: {v}"),
        None => println!("gdb: not installed (or without Python): gdb column skipped"),
    }
    println!(
        "medians of {} runs (gdb: {}); ratios are taken run by run, then the median{}",
        plan.reps,
        plan.gdb_reps,
        if quick {
            " [--quick: short runs, rough figures]"
        } else {
            ""
        }
    );
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    if wanted(1) {
        figures::attach_dump(&plan, &mut rows);
    }
    if wanted(2) {
        figures::breakpoints(&plan, &mut rows);
    }
    if wanted(3) {
        figures::steps(&plan, &mut rows);
    }
    if wanted(4) {
        figures::memory(&plan, &mut rows);
    }
    if wanted(5) {
        figures::cpu(&plan, &mut rows);
    }
    if wanted(6) {
        storm::latency(&plan, &mut rows);
        storm::storm(&plan, &mut rows, &mut notes);
    }
    if wanted(7) {
        snapshot::snapshots(&plan, &mut rows);
    }
    if wanted(8) {
        trace::trace(&plan, &mut rows);
    }
    println!();
    table::print(&rows);
    println!();
    for n in notes {
        println!("{n}");
    }
    println!("{}", EXPLAIN.trim());
    println!("total run time {:.0} s", started.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&answers);
}

const EXPLAIN: &str = "
vs raw / vs gdb: ptscope's speed over the other's (rates: ptscope/other; times and CPU:
other/ptscope), so 1.00x = as fast, 0.50x = half as fast, 5.00x = five times faster.
raw: a minimal ptrace loop in this benchmark (benches/ptscope/raw.rs) doing the same job with
nothing else: no events, channels or state machine.
1: the lab target has N idle threads plus 2 (main, control); raw = SEIZE all, INTERRUPT all,
   wait, GETREGS, DETACH; gdb = `gdb -batch -p PID -ex 'info threads'` (whole command, -nx,
   debuginfod off), compared with both the in-process call and the whole `ptscope dump`.
2: hits = calls of the hot function counted by the target itself. Every tracer stops all
   threads per hit (all-stop), moves rip back, steps over the original instruction and
   resumes all; ptscope: AddBreakpoint, then Continue + wait AllStopped per hit (a front-end
   round trip per hit); gdb: `ignore 1 N` then `continue` (gdb's fastest way through hits: no
   command list, but each hit still stops all threads), timed inside gdb with Python so its
   start-up is left out. With 8 threads several often hit in one all-stop.
3: ptscope: blocking Command::Step calls; raw: PTRACE_SINGLESTEP + waitpid; gdb: `stepi N`
   with `scheduler-locking step` so that, as in the others, only that thread runs.
4: ptscope: TracerHandle::read_memory (one process_vm_readv at rest); raw: process_vm_readv from this thread; gdb: Python
   read_memory with code/stack caches off.
5: CPU from the kernel's per-thread clock of the tracer thread (ptscope, raw) or gdb's whole
   process clock. Per signal: the target takes SIGALRM from an interval timer, passed on.
6: latency from tgkill(SIGUSR1) to the consumer holding the AllStopped snapshot, and to the
   first frame of ptscope's real UI loop (ui::run::run on a TestBackend, keys injected) whose
   status bar shows STOPPED; raw: to the last stop of its all-stop reaped. The storm: `storm N`
   in the target creates and joins N threads one by one while the UI (stop_on_thread_events
   off), the raw loop (PTRACE_O_TRACECLONE) or gdb (thread events not printed) follow.
7: issue 10. The target is `__demo heap --ticker` (a thread waking every 1 ms keeps the
   longest gap it saw): pause = that gap during the job less the 1 ms it sleeps. Whole
   command = wall time, process start included. raw = SEIZE+INTERRUPT+GETREGS+DETACH in this
   process; other = eu-stack -p PID (stops one thread at a time: its pause is per thread,
   its snapshot not consistent) or gcore; gdb = `thread apply all bt`. `dump` vs
   `--no-analysis` on `__demo hung-pool` (999 threads in three shapes; the raw column holds
   --no-analysis). The inspector: the real UI loop on a TestBackend, `s` pressed while
   running -> the first frame showing STOPPED (raw: the raw loop's attach-stop-detach).
   `dump --cpus N` (N = every CPU) against the default dump, which keeps at most all CPUs
   but one busy: the pause the target feels is mostly its wait for a CPU our loaders hold.
   A dump keeps what each mapped file answered (names, lines; per build id) for the next
   one, as gdb's index-cache does: the `dump` rows are dumps after a first one (the run
   starts with an empty cache of its own and one unmeasured dump), `--no-cache` rows parse
   every file again, as the first dump of a new build does.
8: hits that do not stop. `ptscope trace PID ptscope_lab_hot --for 1` as a user runs it (its
   lines read from a pipe; the rate is its own count over the traced window, checked against
   the lines) against gdb `dprintf *ADDR,\"%lu\\n\",$rdi` (output to a pipe, rate from the
   target's counter over the `continue`, timed in gdb's Python, ended by SIGINT). The engine
   rows: a trace rule through TracerHandle, calls counted by the target, with the hitting
   thread's instruction run out of line (the default) or every thread stopped to step over it.
";
