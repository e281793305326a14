//! `ptscope dump PID`: attach, stop every thread, print them, detach; and, unless asked not
//! to, say why the process is hung (src/analysis): a summary, deadlocks, lock waits by holder,
//! and the threads grouped by identical stack.
//!
//! The process is stopped only to copy: everything that can be read while it runs is read
//! before the stop (the kernel view, the memory map, the symbol and unwind tables of every
//! mapped file) or after the detach (the stack walks, from copies, and the rest of the
//! analysis). Stopped, it costs only the registers, the lock words the waits point at and
//! each thread's stack bytes (`stacks.rs`).

mod cpus;
mod stacks;

pub use cpus::Cpus;

use crate::analysis::{self, facts::ThreadInput, gather, restart, Analysis};
use crate::procinfo::{self, ThreadKernelView};
use crate::symbols::{self, AnswerStore, Backtrace, ModuleCache, Symbolizer};
use crate::text::sanitize;
use crate::tracer::memory::Memory;
use crate::tracer::{
    EventKind, Options, ProcessState, Snapshot, Tid, TraceError, TracerHandle, WhileStopped,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
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
    /// Read before the stop for the analysis (off-CPU times, kernel stacks).
    pub prestop: gather::PreStop,
    pub analysis: Option<Analysis>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpOptions {
    pub backtraces: bool,
    pub analysis: bool,
    /// The most CPUs the dump keeps busy at once (`cpus.rs`; `Cpus::default_budget()`
    /// leaves the target one).
    pub cpus: usize,
    /// Look pcs up in, and add them to, the answers kept on disk between dumps
    /// (`symbols/remembered.rs`), instead of parsing every mapped file each time.
    pub remember: bool,
}

/// Attaches, waits for the all-stop (bounded), unwinds every stopped thread, detaches: the
/// dump without analysis.
pub fn take(pid: i32, backtraces: bool) -> Result<Dump, TraceError> {
    take_with(
        pid,
        DumpOptions {
            backtraces,
            analysis: false,
            cpus: Cpus::default_budget(),
            remember: false,
        },
    )
}

pub fn take_with(pid: i32, opts: DumpOptions) -> Result<Dump, TraceError> {
    // The memory map first (one small read): everything else before the stop works from it.
    // Answers are only asked for by stack walks: without them there is nothing to keep.
    let store = (opts.remember && opts.backtraces)
        .then(AnswerStore::user_default)
        .flatten();
    let modules = match store.clone() {
        Some(store) => ModuleCache::remembering(store),
        None => ModuleCache::shared(),
    };
    let sym = opts
        .backtraces
        .then(|| Symbolizer::with_cache(pid, modules).ok())
        .flatten()
        .map(Arc::new);
    let cpus = Cpus::new(opts.cpus);
    let cpus = &cpus;
    std::thread::scope(|s| {
        // Before the stop, side by side as far as `cpus` allows: the kernel view here, the
        // analysis's off-CPU times, every mapped file's symbol and unwind tables, and source
        // lines, each on a thread.
        let kernel_share = cpus.take();
        let pre = opts
            .analysis
            .then(|| s.spawn(|| cpus.run(|| gather::before_stop(pid))));
        let tables = sym
            .as_ref()
            .map(|sym| s.spawn(|| cpus.run(|| sym.preload())));
        let kernel: BTreeMap<Tid, ThreadKernelView> = procinfo::read_threads(pid)
            .map(|v| v.into_iter().map(|k| (k.tid, k)).collect())
            .unwrap_or_default();
        drop(kernel_share);
        // Source lines are the slow part of symbols when debug info is compressed (libc's
        // with libc6-dbg: inflating its .debug_info alone takes longer than the symbol
        // tables): those of the modules the threads sleep in, and of the program, are read
        // from the moment the kernel view says where the threads are, on a thread of their
        // own (with a CPU share like the rest: a lower priority did not spare the process's
        // threads any waiting, `cpus.rs`).
        if let Some(sym) = &sym {
            let mut pcs: Vec<u64> = kernel
                .values()
                .filter_map(|k| match k.syscall {
                    procinfo::SyscallState::InSyscall { pc, .. }
                    | procinfo::SyscallState::NotInSyscall { pc, .. } => Some(pc),
                    _ => None,
                })
                .collect();
            pcs.extend(sym.maps().first().map(|m| m.start));
            s.spawn(move || cpus.run(|| sym.preload_lines(&pcs)));
        }
        let prestop = pre.and_then(|h| h.join().ok()).unwrap_or_default();
        if let Some(t) = tables {
            let _ = t.join();
        }
        let kernel = Arc::new(kernel);
        let plan = CopyPlan {
            analysis: opts.analysis,
            kernel: kernel.clone(),
            room: sym.as_ref().map(|s| stacks::prepare(&kernel, s.maps())),
            sym: sym.clone(),
            mem: opts
                .backtraces
                .then(|| Memory::open_read_only(pid).ok())
                .flatten(),
        };
        // The stop's share is the tracer thread's (this one only waits for it).
        let stopped = cpus.run(|| stop_and_copy(pid, plan))?;
        let StopCopy {
            snapshot,
            copies,
            lock_words,
        } = stopped;
        let stacks = match (&sym, &copies) {
            (Some(sym), Some(c)) => c.walk_all(sym, cpus),
            _ => BTreeMap::new(),
        };
        // The tracer thread is gone, and the copy's share of the kernel view with it.
        let mut kernel = Arc::try_unwrap(kernel).unwrap_or_else(|k| (*k).clone());
        // A thread some tracer stopped in a sleep before reads as restart_syscall(): named
        // for the call it restarts, as the inspector does.
        if let Some(sym) = &sym {
            restart::name_all(kernel.values_mut(), |pc| sym.symbolize(pc, false).function);
        }
        let mut d = Dump {
            snapshot,
            kernel,
            stacks,
            prestop,
            analysis: None,
        };
        if opts.analysis {
            d.analysis = Some(analyse(&d, &lock_words, sym.as_deref()));
        }
        // After the answer, which the process does not wait for: the new answers written,
        // then a directory listing and a stat per file.
        if let (Some(store), Some(sym)) = (&store, sym.as_deref()) {
            sym.save_answers();
            store.prune(symbols::remembered::STORE_BUDGET);
        }
        Ok(d)
    })
}

/// What is taken while every thread holds still.
struct StopCopy {
    snapshot: Snapshot,
    copies: Option<stacks::StackCopies>,
    lock_words: gather::Stopped,
}

/// What the copy on the tracer thread needs, made before the stop.
struct CopyPlan {
    analysis: bool,
    kernel: Arc<BTreeMap<Tid, ThreadKernelView>>,
    sym: Option<Arc<Symbolizer>>,
    room: Option<Vec<u8>>,
    /// The process's memory, opened before the stop.
    mem: Option<Memory>,
}

/// Attaches and lets the tracer thread itself copy the registers, the stacks and the lock
/// words the moment the last thread has stopped, and detach right after
/// (`TracerHandle::attach_once`): the stop holds no wake-up of this thread and no round trip
/// between threads, only the interrupts, the reports, the copy and the detaches. A thread that
/// cannot stop is let be by the engine within a second, with the reason.
fn stop_and_copy(pid: i32, plan: CopyPlan) -> Result<StopCopy, TraceError> {
    // The kernel view read each thread's name from its stat a moment ago.
    let names: BTreeMap<Tid, String> = plan
        .kernel
        .iter()
        .filter(|(_, k)| k.state != '?' && !k.comm.is_empty())
        .map(|(tid, k)| (*tid, k.comm.clone()))
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    let job: WhileStopped = Box::new(move |snap: &Snapshot| {
        let _ = tx.send(copy_while_stopped(snap, plan));
    });
    let handle = TracerHandle::attach_once(
        pid,
        Options {
            stop_on_thread_events: false,
            known_names: Some(Arc::new(names)),
            ..Options::default()
        },
        job,
    )?;
    let deadline = Instant::now() + STOP_DEADLINE;
    let taken = rx.recv_timeout(STOP_DEADLINE);
    // The picture itself comes on the event stream, sent once the detach is done (copying
    // it inside the stop would cost a clone of every thread's record).
    let mut snap = None;
    let mut exited = false;
    while snap.is_none() && !exited {
        let left = deadline.saturating_duration_since(Instant::now());
        match handle.events().recv_timeout(left) {
            Ok(ev) => match ev.kind {
                EventKind::AllStopped(s) => snap = Some(*s),
                EventKind::ProcessExited(_) => exited = true,
                _ => {}
            },
            Err(_) => break,
        }
    }
    match (taken, snap) {
        (Ok((copies, lock_words)), Some(snapshot)) => {
            handle.shutdown()?;
            Ok(StopCopy {
                snapshot,
                copies,
                lock_words,
            })
        }
        // The job is dropped unrun only when the process went away before the stop was
        // complete.
        _ if exited => Err(TraceError::ProcessExited),
        _ => {
            // Not stopped in time (the engine lets every straggler be within a second, so
            // this is a tracer in trouble): the picture as it is, without stacks.
            let snapshot = handle.snapshot();
            handle.shutdown()?;
            Ok(StopCopy {
                snapshot: snapshot?,
                copies: None,
                lock_words: gather::Stopped::default(),
            })
        }
    }
}

/// On the tracer thread, every thread stopped: the stacks, then the lock words and poll
/// arrays the waits point at (a few process_vm_readv calls per waiting thread). A thread that
/// may be a refused PI locker needs its frames to find the mutex it was locking: only those
/// few are walked now, from the copies.
fn copy_while_stopped(
    snap: &Snapshot,
    plan: CopyPlan,
) -> (Option<stacks::StackCopies>, gather::Stopped) {
    let CopyPlan {
        analysis,
        kernel,
        sym,
        room,
        mem,
    } = plan;
    // The leader's view was opened before the stop; a zombie leader has no memory, so then
    // any live thread's.
    let leader_live = snap
        .threads
        .iter()
        .any(|t| t.tid == snap.pid && !t.zombie && t.regs.is_some());
    let mem = mem.filter(|_| leader_live).or_else(|| {
        snap.threads
            .iter()
            .filter(|t| !t.zombie && t.regs.is_some())
            .find_map(|t| Memory::open_read_only(t.tid).ok())
    });
    let Some(mem) = mem else {
        return (None, gather::Stopped::default());
    };
    let copies = match (&sym, room) {
        (Some(sym), Some(room)) => Some(stacks::copy(&mem, snap, sym.maps(), room)),
        _ => None,
    };
    if !analysis {
        return (copies, gather::Stopped::default());
    }
    let (none, pre) = (BTreeMap::new(), gather::PreStop::default());
    let refused: Vec<Tid> = inputs_of(snap, &kernel, &none, &pre)
        .iter()
        .filter(|t| analysis::waits::may_be_refused(t))
        .map(|t| t.tid)
        .collect();
    let stacks = match (&copies, &sym) {
        (Some(c), Some(sym)) if !refused.is_empty() => c.walk(sym, &refused),
        _ => BTreeMap::new(),
    };
    let threads = inputs_of(snap, &kernel, &stacks, &pre);
    let words = gather::while_stopped(&threads, &mut |addr, len| mem.read(addr, len));
    (copies, words)
}

/// Everything after the detach: the process runs again while we think.
fn analyse(d: &Dump, stopped: &gather::Stopped, sym: Option<&Symbolizer>) -> Analysis {
    let threads = inputs(d);
    let waits = analysis::classify_all(&threads, stopped);
    let names = d
        .snapshot
        .threads
        .iter()
        .map(|t| (t.tid, t.name.clone()))
        .collect();
    let facts = gather::after_detach(d.snapshot.pid, names, &waits, sym);
    analysis::build(&threads, waits, facts)
}

/// Each thread of the snapshot with what was read about it.
fn inputs(d: &Dump) -> Vec<ThreadInput<'_>> {
    inputs_of(&d.snapshot, &d.kernel, &d.stacks, &d.prestop)
}

fn inputs_of<'a>(
    snapshot: &'a Snapshot,
    kernel: &'a BTreeMap<Tid, ThreadKernelView>,
    stacks: &'a BTreeMap<Tid, Backtrace>,
    prestop: &'a gather::PreStop,
) -> Vec<ThreadInput<'a>> {
    snapshot
        .threads
        .iter()
        .map(|t| ThreadInput {
            tid: t.tid,
            name: &t.name,
            kernel: kernel.get(&t.tid),
            frames: stacks.get(&t.tid).map_or(&[][..], |b| b.frames.as_slice()),
            regs: t.regs.as_ref(),
            off_cpu_ms: prestop.off_cpu_ms.get(&t.tid).copied(),
            kstack: prestop.kstacks.get(&t.tid).map(Vec::as_slice),
        })
        .collect()
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
    #[serde(skip_serializing_if = "Option::is_none")]
    waits: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct JsonDump<'a> {
    pid: i32,
    threads: Vec<JsonThread<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deadlocks: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    groups: Option<serde_json::Value>,
}

/// The stable JSON contract for scripts. Names are passed through as data (JSON escapes
/// control characters itself). The analysis adds `waits` per thread and `summary`,
/// `deadlocks` and `groups` at the top; every older field is as it was.
pub fn to_json(d: &Dump) -> String {
    let a = d.analysis.as_ref();
    let frames_of = |tid: Tid| d.stacks.get(&tid).map_or(&[][..], |b| b.frames.as_slice());
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
                frames: frames_of(t.tid).iter().map(|f| f.to_json()).collect(),
                waits: a.map(|a| match a.waits.get(&t.tid) {
                    Some(w) => analysis::json::wait(w, a),
                    None => serde_json::Value::Null,
                }),
            })
            .collect(),
        summary: a.map(analysis::json::summary),
        deadlocks: a.map(analysis::json::deadlocks),
        groups: a.map(|a| analysis::json::groups(a, frames_of)),
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

/// The per-thread listing, like `thread apply all bt`: a header per thread with the stop
/// cause and what the kernel said it was doing, what it waits on, then its frames.
fn threads_text(d: &Dump, out: &mut String) {
    for t in &d.snapshot.threads {
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
        if let Some(w) = d
            .analysis
            .as_ref()
            .and_then(|a| Some((a, a.waits.get(&t.tid)?)))
        {
            let text = analysis::describe::wait_text(w.1, &w.0.facts);
            out.push_str(&format!("    waits: {}\n", sanitize(&text)));
        }
        if let Some(r) = t.regs {
            out.push_str(&format!(
                "    rip {:#018x}  rsp {:#018x}  rbp {:#018x}\n",
                r.rip(),
                r.rsp(),
                r.rbp()
            ));
        }
        if let Some(bt) = d.stacks.get(&t.tid) {
            for l in analysis::render::frame_lines(&bt.frames, "    ") {
                out.push_str(&sanitize(&l));
                out.push('\n');
            }
            if bt.stop != symbols::UnwindStop::Outermost {
                out.push_str(&format!("    (stack walk ended: {:?})\n", bt.stop));
            }
        }
    }
}

/// The header, then the analysis (when taken), then every thread in full (with `all`, or
/// when there is no analysis to print instead).
pub fn to_text(d: &Dump, all: bool) -> String {
    let snap = &d.snapshot;
    let mut out = format!(
        "process {} ({} threads, {})\n",
        snap.pid,
        snap.threads.len(),
        state_text(&snap.state)
    );
    if let Some(a) = &d.analysis {
        out.push('\n');
        out.push_str(&analysis::render::sections(
            a,
            &inputs(d),
            !d.stacks.is_empty(),
        ));
        if all {
            out.push_str("\nevery thread:\n");
        }
    }
    if all || d.analysis.is_none() {
        threads_text(d, &mut out);
    }
    out
}

/// What the command prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub json: bool,
    pub backtraces: bool,
    /// Every thread in full after the analysis.
    pub all: bool,
    pub analysis: bool,
    /// `DumpOptions::cpus`.
    pub cpus: usize,
    /// `DumpOptions::remember`.
    pub remember: bool,
}

/// The command: prints to stdout; the caller turns an error into one line and exit 1.
pub fn run(pid: i32, req: &Request) -> Result<(), TraceError> {
    let dump = take_with(
        pid,
        DumpOptions {
            backtraces: req.backtraces,
            analysis: req.analysis,
            cpus: req.cpus,
            remember: req.remember,
        },
    )?;
    let text = if req.json {
        to_json(&dump)
    } else {
        to_text(&dump, req.all)
    };
    // The process is detached already; a reader that went away early (`ptscope dump | head`)
    // is no error of ours, and println! would panic on the closed pipe.
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let r = writeln!(out, "{}", text.trim_end()).and_then(|_| out.flush());
    match r {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("ptscope: cannot write the dump: {e}");
        }
        _ => {}
    }
    Ok(())
}
