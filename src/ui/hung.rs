//! "Why is it hung?" for the inspector: the job the analysis worker runs at a stop, and what it
//! hands the model. It feeds `crate::analysis` the way `ptscope dump` does (`dump::take_with`):
//! the kernel view read before the stop, stacks and lock memory read while every thread holds
//! still (process_vm_readv, no ptrace call, so the tracer thread keeps its stop), then /proc
//! facts about descriptors and symbols of lock addresses.
//!
//! Two answers, so the first comes soon: what each thread waits on and the deadlocks (only the
//! threads in a futex are unwound for it: their frames tell a mutex from a condvar), then, when
//! asked, every stack walked and grouped. Text is sanitised here, on the worker side.

use super::msg::Msg;
use crate::analysis::facts::ThreadInput;
use crate::analysis::gather::{self, PreStop};
use crate::analysis::{self, brief, groups, ranges, render, restart, waits, Analysis};
use crate::procinfo::{SyscallState, ThreadKernelView};
use crate::regs::Registers;
use crate::symbols::{self, Frame, Symbolizer};
use crate::text::sanitize;
use crate::tracer::memory::Memory;
use crate::tracer::thread::Tid;
use std::collections::{BTreeMap, BTreeSet};

/// One thread of the stopped process, as the model knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AskThread {
    pub tid: Tid,
    pub name: String,
    /// At the stop; None for a thread that has none (a zombie leader).
    pub regs: Option<Registers>,
}

/// A request for the analysis worker, for stop generation `gen`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalyseAsk {
    pub gen: u64,
    pub threads: Vec<AskThread>,
    /// Read before the stop, never our own `t`.
    pub kernel: BTreeMap<Tid, ThreadKernelView>,
    /// Off-CPU times and D-state kernel stacks, read just before the stop (empty when the
    /// stop was not the user's: a breakpoint or a signal stopped the process).
    pub prestop: PreStop,
    /// Say what each thread waits on, and find the deadlocks.
    pub waits: bool,
    /// Walk every stack and group identical ones.
    pub groups: bool,
}

impl AnalyseAsk {
    /// Asks queued behind each other: only the newest stop matters, with everything asked
    /// for it.
    pub fn merge(self, newer: AnalyseAsk) -> AnalyseAsk {
        if newer.gen != self.gen {
            return newer;
        }
        AnalyseAsk {
            waits: self.waits || newer.waits,
            groups: self.groups || newer.groups,
            ..newer
        }
    }
}

/// Where a thread sat when its wait was told: the pc after its `syscall` instruction and the
/// call's first argument. Both survive a restart of the call, so while the process runs a wait
/// still holds as long as the live kernel view shows the same pair.
pub type CallKey = (u64, u64);

pub fn call_key(v: &ThreadKernelView) -> Option<CallKey> {
    match v.syscall {
        SyscallState::InSyscall { args, pc, .. } => Some((pc, args[0])),
        _ => None,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitCell {
    /// "mutex <m_accounts> held by 4250", sanitised.
    pub text: String,
    /// The JSON contract's kind: `mutex`, `fd`, `running`...
    pub kind: &'static str,
    pub call: Option<CallKey>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadlockView {
    /// In wait order: each waits for the next, the last for the first.
    pub tids: Vec<Tid>,
    /// "DEADLOCK: 4242 -> 4243 -> 4242 (mutex <m1>, <m0>)", sanitised.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitsView {
    pub gen: u64,
    pub cells: BTreeMap<Tid, WaitCell>,
    pub deadlocks: Vec<DeadlockView>,
    /// "5 threads: 4 mutex, 1 signal-wait; 2 deadlocks (4 threads)".
    pub summary: String,
    /// Threads the kernel showed in `restart_syscall()`, with the call being restarted
    /// (`clock_nanosleep(CLOCK_REALTIME, ...)`), sanitised.
    pub restarted: BTreeMap<Tid, String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupView {
    /// In tid order.
    pub tids: Vec<Tid>,
    /// The innermost frame's function (`__lll_lock_wait`), sanitised; `??` when unnamed.
    pub top: String,
    /// The first frame in the program's own code, when it is not the top one.
    pub at: Option<String>,
    pub depth: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupsView {
    pub gen: u64,
    /// Largest first.
    pub groups: Vec<GroupView>,
}

impl GroupView {
    /// `4101-4103, 4107`.
    pub fn ranges(&self) -> String {
        ranges::format(&self.tids)
    }
}

fn function_name(f: &Frame) -> String {
    match &f.location.function {
        Some(func) => sanitize(func),
        None => match &f.location.module {
            Some(m) => format!(
                "{}+{:#x}",
                sanitize(m.rsplit('/').next().unwrap_or(m)),
                f.location.module_offset
            ),
            None => "??".to_string(),
        },
    }
}

/// Names each `restart_syscall()` in `views` for the call it restarts, in place, when the
/// wrapper its pc is in tells (see `analysis::restart`). Symbols are loaded only when some
/// thread is in one.
pub fn name_restarts_with(pid: i32, views: &mut [ThreadKernelView]) {
    if !views.iter().any(|v| restart::restart_pc(v).is_some()) {
        return;
    }
    let Ok(sym) = Symbolizer::new(pid) else {
        return;
    };
    restart::name_all(views.iter_mut(), |pc| sym.symbolize(pc, false).function);
}

/// The kernel view with each `restart_syscall()` named for the call it restarts (see
/// `analysis::restart`), and the calls so named.
fn name_restarts(
    kernel: &BTreeMap<Tid, ThreadKernelView>,
    sym: Option<&Symbolizer>,
) -> (BTreeMap<Tid, ThreadKernelView>, BTreeMap<Tid, String>) {
    let mut views = kernel.clone();
    let mut named = BTreeMap::new();
    for (tid, v) in kernel {
        let Some(pc) = restart::restart_pc(v) else {
            continue;
        };
        let func = sym.and_then(|s| s.symbolize(pc, false).function);
        if let Some(r) = restart::restarted(v, func.as_deref()) {
            if let Some(call) = r.syscall.call() {
                named.insert(*tid, sanitize(&call));
            }
            views.insert(*tid, r);
        }
    }
    (views, named)
}

/// Whether the wait needs the thread's frames: a futex says what kind of lock only through
/// the functions above it.
fn needs_frames(v: Option<&ThreadKernelView>) -> bool {
    matches!(
        v.map(|v| &v.syscall),
        Some(SyscallState::InSyscall { nr, .. }) if *nr == libc::SYS_futex
    )
}

/// The answer the model takes: each wait in a few words, the deadlocks on a line each, the
/// summary; every string sanitised (symbols and paths are the target's).
pub fn answer_of(a: &Analysis, ask: &AnalyseAsk) -> WaitsView {
    let cells = a
        .waits
        .values()
        .map(|w| {
            let cell = WaitCell {
                text: sanitize(&brief::wait_brief(w, &a.facts)),
                kind: w.wait.kind(),
                call: ask.kernel.get(&w.tid).and_then(call_key),
            };
            (w.tid, cell)
        })
        .collect();
    let deadlocks = a
        .deadlocks
        .iter()
        .map(|d| DeadlockView {
            tids: d.tids.clone(),
            text: sanitize(&brief::deadlock_line(d, &a.waits, &a.facts)),
        })
        .collect();
    let summary = render::summary(a);
    let summary = summary.strip_prefix("summary: ").unwrap_or(&summary);
    WaitsView {
        gen: ask.gen,
        cells,
        deadlocks,
        summary: sanitize(summary),
        restarted: BTreeMap::new(),
    }
}

struct Job<'a> {
    pid: i32,
    sym: Option<&'a Symbolizer>,
    mem: Option<Memory>,
    stacks: BTreeMap<Tid, Vec<Frame>>,
}

impl Job<'_> {
    fn read(&self, addr: u64, len: usize) -> Vec<u8> {
        self.mem
            .as_ref()
            .map_or_else(Vec::new, |m| m.read(addr, len))
    }

    fn unwind(&mut self, t: &AskThread) {
        let (Some(sym), Some(regs)) = (self.sym, t.regs) else {
            return;
        };
        if self.stacks.contains_key(&t.tid) {
            return;
        }
        let mem = self.mem.as_ref();
        let mut read = |addr: u64, buf: &mut [u8]| match mem {
            Some(m) => {
                let got = m.read(addr, buf.len());
                buf[..got.len()].copy_from_slice(&got);
                got.len()
            }
            None => 0,
        };
        let bt = symbols::unwind(sym, &regs, &mut read, symbols::MAX_DEPTH);
        self.stacks.insert(t.tid, bt.frames);
    }

    fn waits(&self, ask: &AnalyseAsk, kernel: &BTreeMap<Tid, ThreadKernelView>) -> WaitsView {
        let inputs: Vec<ThreadInput> = ask
            .threads
            .iter()
            .map(|t| ThreadInput {
                tid: t.tid,
                name: &t.name,
                kernel: kernel.get(&t.tid),
                frames: self.stacks.get(&t.tid).map_or(&[][..], Vec::as_slice),
                regs: t.regs.as_ref(),
                off_cpu_ms: ask.prestop.off_cpu_ms.get(&t.tid).copied(),
                kstack: ask.prestop.kstacks.get(&t.tid).map(Vec::as_slice),
            })
            .collect();
        let stopped = gather::while_stopped(&inputs, &mut |addr, len| self.read(addr, len));
        let ws = analysis::classify_all(&inputs, &stopped);
        let names = ask
            .threads
            .iter()
            .map(|t| (t.tid, t.name.clone()))
            .collect();
        let facts = gather::after_detach(self.pid, names, &ws, self.sym);
        answer_of(&analysis::build(&inputs, ws, facts), ask)
    }

    fn groups(&self, ask: &AnalyseAsk) -> GroupsView {
        let pcs: Vec<(Tid, Vec<u64>)> = ask
            .threads
            .iter()
            .map(|t| {
                let frames = self.stacks.get(&t.tid).map_or(&[][..], Vec::as_slice);
                (t.tid, frames.iter().map(|f| f.pc).collect())
            })
            .collect();
        let groups = groups::group(pcs.iter().map(|(t, p)| (*t, p.as_slice())))
            .into_iter()
            .map(|g| {
                let frames = g
                    .tids
                    .first()
                    .and_then(|t| self.stacks.get(t))
                    .map_or(&[][..], Vec::as_slice);
                let top = frames
                    .first()
                    .map_or_else(|| "(no stack)".to_string(), function_name);
                let at = waits::user_frame(frames)
                    .filter(|i| *i > 0)
                    .map(|i| function_name(&frames[i]));
                GroupView {
                    tids: g.tids,
                    top,
                    at,
                    depth: frames.len(),
                }
            })
            .collect();
        GroupsView {
            gen: ask.gen,
            groups,
        }
    }
}

/// Runs one ask, sending each answer as soon as it is ready; stops when the model has gone
/// (`send` returns false).
pub fn run(
    pid: i32,
    ask: &AnalyseAsk,
    sym: Option<&Symbolizer>,
    send: &mut dyn FnMut(Msg) -> bool,
) {
    let live: BTreeSet<Tid> = ask.threads.iter().map(|t| t.tid).collect();
    let mem = live
        .iter()
        .find_map(|t| Memory::open_thread(pid, *t).ok())
        .or_else(|| Memory::open(pid).ok());
    let mut job = Job {
        pid,
        sym,
        mem,
        stacks: BTreeMap::new(),
    };
    let (kernel, restarted) = name_restarts(&ask.kernel, sym);
    if ask.waits {
        for t in &ask.threads {
            if needs_frames(kernel.get(&t.tid)) {
                job.unwind(t);
            }
        }
        let mut view = job.waits(ask, &kernel);
        view.restarted = restarted;
        if !send(Msg::Waits(Box::new(view))) {
            return;
        }
    }
    if ask.groups {
        for t in &ask.threads {
            job.unwind(t);
        }
        let _ = send(Msg::Groups(Box::new(job.groups(ask))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(gen: u64, waits: bool, groups: bool) -> AnalyseAsk {
        AnalyseAsk {
            gen,
            threads: Vec::new(),
            kernel: BTreeMap::new(),
            prestop: PreStop::default(),
            waits,
            groups,
        }
    }

    #[test]
    fn queued_asks_keep_the_newest_stop_and_everything_asked_for_it() {
        let m = ask(3, true, false).merge(ask(3, false, true));
        assert!(m.waits && m.groups);
        let m = ask(3, true, true).merge(ask(4, false, true));
        assert_eq!((m.gen, m.waits, m.groups), (4, false, true));
    }

    /// Two threads each holding the mutex the other wants, one of them named by a hostile
    /// symbol, a third reading a pipe.
    fn analysis() -> Analysis {
        use crate::analysis::facts::{DataSymbol, ProcessFacts};
        use crate::analysis::waits::{FdWait, LockKind, LockWait, Owner, ThreadWait, Wait};
        let lock = |addr, owner| {
            Wait::Lock(LockWait {
                kind: LockKind::Mutex,
                futex: addr,
                addr,
                owner: Owner::Thread(owner),
                role: None,
                pi: false,
                owner_died: false,
                by: Some("pthread_mutex_lock".into()),
                refused: false,
                identified: false,
            })
        };
        let wait = |tid, wait, since_ms| ThreadWait {
            tid,
            wait,
            since_ms,
            at: None,
            confirmed: true,
        };
        let waits = vec![
            wait(10, lock(0x5000, 11), Some(3_000)),
            wait(11, lock(0x6000, 10), Some(3_000)),
            wait(
                12,
                Wait::Fd(FdWait {
                    call: "read".into(),
                    fds: vec![3],
                }),
                None,
            ),
        ];
        let mut facts = ProcessFacts {
            pid: 10,
            live: [10, 11, 12].into(),
            holders_complete: true,
            ..Default::default()
        };
        facts.symbols.insert(
            0x5000,
            DataSymbol {
                name: "m\x1b[2J\u{9b}evil".into(),
                offset: 0,
            },
        );
        analysis::build(&[], waits, facts)
    }

    #[test]
    fn the_answer_is_in_few_words_and_terminal_safe() {
        let a = analysis();
        let v = answer_of(&a, &ask(7, true, false));
        assert_eq!(v.gen, 7);
        assert_eq!(v.deadlocks.len(), 1);
        assert_eq!(v.deadlocks[0].tids, vec![10, 11]);
        let text = &v.deadlocks[0].text;
        assert!(
            text.starts_with("DEADLOCK: 10 -> 11 -> 10 (mutex <m"),
            "{text}"
        );
        assert!(text.ends_with(", 0x6000)"), "{text}");
        assert_eq!(v.cells[&11].text, "mutex 0x6000 held by 10, 3.0 s");
        assert_eq!(v.cells[&12].text, "read fd 3 (closed)");
        assert_eq!(v.cells[&12].kind, "fd");
        for t in std::iter::once(text).chain(v.cells.values().map(|c| &c.text)) {
            assert!(!t.chars().any(char::is_control), "{t:?}");
        }
        assert_eq!(
            v.summary,
            "3 threads: 2 mutex, 1 fd; 1 deadlock (2 threads)"
        );
    }

    #[test]
    fn a_call_key_survives_a_restart() {
        let v = |s: &str| ThreadKernelView {
            tid: 1,
            comm: String::new(),
            state: 'S',
            wchan: None,
            syscall: SyscallState::parse(s),
            cpu_ms: 0,
        };
        let before = v("230 0x0 0x0 0x7ffe7333eea0 0x0 0x0 0x0 0x7ffe7333ee88 0x7f397f856503");
        let after = v("219 0x0 0x0 0x7ffe7333eea0 0x0 0x0 0x0 0x7ffe7333ee88 0x7f397f856503");
        assert_eq!(call_key(&before), Some((0x7f39_7f85_6503, 0)));
        assert_eq!(call_key(&before), call_key(&after));
        assert_eq!(call_key(&v("running")), None);
    }
}
