//! `ptscope dump PID`: attach, stop every thread, print them, detach.

use crate::procinfo::{self, ThreadKernelView};
use crate::symbols::{self, Backtrace, Symbolizer};
use crate::text::sanitize;
use crate::tracer::memory::Memory;
use crate::tracer::{EventKind, Options, ProcessState, Snapshot, Tid, TraceError, TracerHandle};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long to wait for every thread to stop. A thread in uninterruptible sleep (D) stops only
/// when its system call returns; a dump must not hang on it, so it is shown as still stopping.
const STOP_DEADLINE: Duration = Duration::from_secs(2);

/// Everything a dump shows, gathered in the order that keeps it honest: the kernel's view of
/// each thread first (after the stop every thread would read `t`, stopped by us), then the
/// stop, registers and stacks while every thread holds still.
pub struct Dump {
    pub snapshot: Snapshot,
    pub kernel: BTreeMap<Tid, ThreadKernelView>,
    pub stacks: BTreeMap<Tid, Backtrace>,
}

/// Attaches, waits for the all-stop (bounded), unwinds every stopped thread, detaches.
pub fn take(pid: i32, backtraces: bool) -> Result<Dump, TraceError> {
    let kernel: BTreeMap<Tid, ThreadKernelView> = procinfo::read_threads(pid)
        .map(|v| v.into_iter().map(|k| (k.tid, k)).collect())
        .unwrap_or_default();
    let opts = Options {
        stop_on_thread_events: false,
        ..Options::default()
    };
    let handle = TracerHandle::attach(pid, opts)?;
    let deadline = Instant::now() + STOP_DEADLINE;
    let mut snap = None;
    while snap.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match handle.events().recv_timeout(left) {
            Ok(ev) => match ev.kind {
                EventKind::AllStopped(s) => snap = Some(*s),
                EventKind::ProcessExited(_) => return Err(TraceError::ProcessExited),
                _ => {}
            },
            Err(_) => break,
        }
    }
    let snapshot = match snap {
        Some(s) => s,
        None => handle.snapshot()?,
    };
    let stacks = if backtraces {
        unwind_all(pid, &snapshot)
    } else {
        BTreeMap::new()
    };
    handle.shutdown()?;
    Ok(Dump {
        snapshot,
        kernel,
        stacks,
    })
}

/// Stack memory is read with the engine's bulk reader (process_vm_readv, /proc/PID/mem for
/// the rest): it needs no ptrace call, so it runs here while the tracer thread keeps every
/// thread stopped, and no int3 of ours is in memory at rest.
fn unwind_all(pid: i32, snap: &Snapshot) -> BTreeMap<Tid, Backtrace> {
    let mut out = BTreeMap::new();
    let Ok(sym) = Symbolizer::new(pid) else {
        return out;
    };
    let mem = snap
        .threads
        .iter()
        .filter(|t| !t.zombie)
        .find_map(|t| Memory::open_thread(pid, t.tid).ok());
    let Some(mem) = mem else { return out };
    for t in &snap.threads {
        let Some(regs) = t.regs else { continue };
        let mut read = |addr: u64, buf: &mut [u8]| {
            let got = mem.read(addr, buf.len());
            buf[..got.len()].copy_from_slice(&got);
            got.len()
        };
        out.insert(
            t.tid,
            symbols::unwind(&sym, &regs, &mut read, symbols::MAX_DEPTH),
        );
    }
    out
}

#[derive(Serialize)]
struct JsonThread<'a> {
    tid: i32,
    name: String,
    state: &'a str,
    cause: Option<String>,
    registers: Option<&'a crate::tracer::Registers>,
    kernel: Option<&'a ThreadKernelView>,
    frames: Vec<serde_json::Value>,
}

#[derive(Serialize)]
struct JsonDump<'a> {
    pid: i32,
    threads: Vec<JsonThread<'a>>,
}

/// The stable JSON contract for scripts. Names are passed through as data (JSON escapes
/// control characters itself).
pub fn to_json(d: &Dump) -> String {
    let dump = JsonDump {
        pid: d.snapshot.pid,
        threads: d
            .snapshot
            .threads
            .iter()
            .map(|t| JsonThread {
                tid: t.tid,
                name: t.name.clone(),
                state: if t.zombie { "zombie" } else { t.state.name() },
                cause: t.cause.map(|c| c.label()),
                registers: t.regs.as_ref(),
                kernel: d.kernel.get(&t.tid),
                frames: d
                    .stacks
                    .get(&t.tid)
                    .map(|b| b.frames.iter().map(|f| f.to_json()).collect())
                    .unwrap_or_default(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&dump).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

fn state_text(state: &ProcessState) -> String {
    match state {
        ProcessState::Running => "running".into(),
        ProcessState::Stopping => "stopping (some threads did not stop in time)".into(),
        ProcessState::Stopped => "stopped".into(),
        ProcessState::GroupStopped { sig } => {
            format!(
                "stopped by {} (job control)",
                crate::tracer::signal_name(*sig)
            )
        }
        ProcessState::Exited { status } => format!("exited {status}"),
        ProcessState::Detached => "detached".into(),
    }
}

/// Reads like `thread apply all bt`: a header per thread with the stop cause and what the
/// kernel said it was doing, then its frames.
pub fn to_text(d: &Dump) -> String {
    let snap = &d.snapshot;
    let mut out = format!(
        "process {} ({} threads, {})\n",
        snap.pid,
        snap.threads.len(),
        state_text(&snap.state)
    );
    for t in &snap.threads {
        let cause = match (t.zombie, t.cause) {
            (true, _) => "zombie leader".to_string(),
            (false, Some(c)) => c.to_string(),
            (false, None) => t.state.name().to_string(),
        };
        out.push_str(&format!(
            "\nthread {} \"{}\"  {cause}",
            t.tid,
            sanitize(&t.name)
        ));
        if let Some(k) = d.kernel.get(&t.tid) {
            out.push_str(&format!("  [kernel: {}", k.state));
            if let Some(w) = &k.wchan {
                out.push_str(&format!(" in {}", sanitize(w)));
            }
            if let Some(call) = k.syscall.call() {
                out.push_str(&format!(", {call}"));
            }
            out.push_str(&format!(", cpu {} ms]", k.cpu_ms));
        }
        out.push('\n');
        if let Some(r) = t.regs {
            out.push_str(&format!(
                "    rip {:#018x}  rsp {:#018x}  rbp {:#018x}\n",
                r.rip(),
                r.rsp(),
                r.rbp()
            ));
        }
        if let Some(bt) = d.stacks.get(&t.tid) {
            for (i, f) in bt.frames.iter().enumerate() {
                out.push_str(&format!("    #{i:<2} {:#018x} {}", f.pc, f.location));
                if let (Some(file), Some(line)) = (&f.location.file, f.location.line) {
                    out.push_str(&format!(" at {}:{line}", sanitize(file)));
                }
                out.push('\n');
            }
            if bt.stop != symbols::UnwindStop::Outermost {
                out.push_str(&format!("    (stack walk ended: {:?})\n", bt.stop));
            }
        }
    }
    out
}

/// The command: prints to stdout; the caller turns an error into one line and exit 1.
pub fn run(pid: i32, json: bool, backtraces: bool) -> Result<(), TraceError> {
    let dump = take(pid, backtraces)?;
    let text = if json { to_json(&dump) } else { to_text(&dump) };
    println!("{}", text.trim_end());
    Ok(())
}
