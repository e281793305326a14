//! The `__demo lab` process the benchmarks measure (driven by the library's
//! `ptscope::demo::lab::Driver`, as the tests drive it), plus reading its memory and CPU.

pub use super::observe::{assert_untraced_and_running, task_ids};
pub use ptscope::demo::lab::Driver as Lab;
use std::time::Duration;

pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Another program (gdb, eu-stack, gcore, a demo target), started with no signal blocked:
/// this process blocks SIGCHLD in every thread, as ptscope's main does, and a child would
/// inherit that.
pub fn tool(name: &str) -> std::process::Command {
    let mut c = std::process::Command::new(name);
    ptscope::tracer::with_empty_signal_mask(&mut c);
    c
}

pub fn ptscope_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ptscope")
}

/// A lab process with `threads` idle threads (plus main and control), ready.
pub fn start(threads: usize) -> Lab {
    Lab::start(ptscope_bin(), threads, TIMEOUT).expect("start the lab program")
}

/// A u64 of the lab's memory (a counter), read as the raw loop reads memory.
pub fn read_u64(pid: i32, addr: u64) -> u64 {
    let mut buf = [0u8; 8];
    let n = super::raw::vm_read(pid, addr, &mut buf);
    assert_eq!(n, 8, "read of {addr:#x} in {pid}");
    u64::from_ne_bytes(buf)
}

/// A readable mapping of at least `len` bytes (for memory reads), not a kernel one such as
/// `[vvar]`.
pub fn readable_region(pid: i32, len: u64) -> u64 {
    ptscope::procinfo::maps::read_maps(pid)
        .expect("maps of the lab")
        .iter()
        .find(|m| m.readable() && !m.path.starts_with('[') && m.end - m.start >= len)
        .map(|m| m.start)
        .expect("a readable mapping of the asked size")
}

/// Polls /proc until every thread of `pid` is traced and none is in a tracing stop: the tracer
/// has attached and let the process run (no tracer says so on its own).
pub fn await_traced_and_running(pid: i32) {
    super::observe::await_traced_and_running(pid, Duration::from_secs(30));
}

/// CPU time of a whole process (any pid) or of one thread of ours, in nanoseconds, from the
/// kernel's per-task CPU clocks (exact, unlike the 10 ms ticks of /proc/*/stat).
pub fn process_cpu_ns(pid: i32) -> u64 {
    clock_ns(((!pid) << 3) | 2)
}

pub fn thread_cpu_ns(tid: i32) -> u64 {
    clock_ns(((!tid) << 3) | 6)
}

fn clock_ns(clock: i32) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into a live local; a clock id that names no
    // task is an error return, not undefined behaviour.
    let r = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(r, 0, "CPU clock: {}", std::io::Error::last_os_error());
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The tid of the thread of this process with that name (e.g. "ptscope-tracer").
pub fn own_thread_named(name: &str) -> Option<i32> {
    let me = std::process::id() as i32;
    task_ids(me).into_iter().find(|tid| {
        std::fs::read_to_string(format!("/proc/{me}/task/{tid}/comm"))
            .map(|c| c.trim() == name)
            .unwrap_or(false)
    })
}

pub fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}
