//! The tracer engine: one thread owns every ptrace call for one process.

pub mod breakpoints;
pub mod cannot_stop;
pub mod debugregs;
mod doorbell;
mod engine;
pub mod error;
pub mod event;
mod launch;
pub mod memory;
mod preflight;
mod ptrace;
pub mod regsets;
pub mod rules;
pub mod signals;
pub mod status;
pub mod thread;
mod tracee;
pub mod wakeup;
pub mod watchpoints;

pub use crate::regs::Registers;
pub use cannot_stop::Unstoppable;
pub use debugregs::WatchKind;
pub use error::{Result, TraceError};
pub use event::{
    BreakpointInfo, Command, Event, EventKind, LogLine, MemoryRead, ProcessState, Reply, Snapshot,
    StepOutcome, ThreadInfo, TraceHit, Transition, WatchHit, WatchpointInfo, WriteRecord,
};
pub use regsets::RegisterSets;
pub use rules::{HitRule, OnHit, RuleInfo};
pub use signals::{signal_name, Policy};
pub use status::{ExitKind, RawStatus, WaitStatus};
pub use thread::{StopCause, ThreadState, Tid};
pub use wakeup::{keep_child_signals_for_tracers, with_empty_signal_mask};

use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use doorbell::CommandBell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where a launched program's standard streams go.
#[derive(Clone, Debug, Default)]
pub enum LaunchStdio {
    /// Share ptscope's terminal (fine for `dump`-like uses, not under the full-screen UI).
    #[default]
    Inherit,
    /// stdin from /dev/null, stdout and stderr appended to this file.
    File(std::path::PathBuf),
    Null,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Whether thread creation and exit stop every thread (the seed's behaviour).
    pub stop_on_thread_events: bool,
    pub stdio: LaunchStdio,
    /// How a breakpoint hit that does not stop (false condition, ignored, logpoint, trace)
    /// lets the thread past the breakpoint.
    pub pass_hits: PassHits,
    /// Thread names the caller read already (a dump's kernel view, just before): at attach a
    /// thread found here is not asked its name again (three system calls a thread, ~10% of
    /// attaching to 1,000).
    pub known_names: Option<Arc<BTreeMap<Tid, String>>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            stop_on_thread_events: true,
            stdio: LaunchStdio::Inherit,
            pass_hits: PassHits::OutOfLine,
            known_names: None,
        }
    }
}

/// The two ways past a breakpoint for a hit that does not stop; both never let another thread
/// run through the address unseen. Measured in the benchmark (`trace` rows).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PassHits {
    /// The original instruction, relocated to a scratch page in the target and followed by a
    /// jump back, runs there: only the hitting thread stops, once (the default).
    #[default]
    OutOfLine,
    /// Every thread is stopped, the hitting one steps over the instruction in place, all are
    /// resumed: what is done anyway where an instruction cannot be relocated.
    StopTheWorld,
}

pub(crate) enum ReplyTo {
    /// Answer as an `EventKind::Reply` on the event stream.
    Event(u64),
    Channel(Sender<Result<Reply>>),
}

pub(crate) struct Request {
    pub cmd: Command,
    pub reply: ReplyTo,
}

/// The little the tracer thread publishes for readers on other threads, lock-free.
#[derive(Default)]
pub(crate) struct Shared {
    /// Even while no int3 of ours is in the target's memory; odd from just before the bytes go
    /// in until they are all out again. A seqlock: a read taken between two equal even values
    /// saw only the program's own bytes.
    pub text_seq: AtomicU64,
    /// Bumped at each exec: memory opened before it belongs to the old image.
    pub mm_generation: AtomicU64,
}

/// Work for the tracer thread itself at the first all-stop, right before the detach that
/// follows it (`TracerHandle::attach_once`): copying memory with process_vm_readv, never a
/// ptrace call. Run there, a stop holds no wake-up of another thread.
pub type WhileStopped = Box<dyn FnOnce(&Snapshot) + Send>;

pub(crate) enum Target {
    Attach {
        pid: i32,
        once: Option<WhileStopped>,
    },
    Launch {
        program: String,
        args: Vec<String>,
    },
}

/// The front ends' side of a tracer thread. Dropping it detaches from an attached process and
/// kills a launched one, so every way out of ptscope (including a panic unwinding) leaves the
/// target as it was.
pub struct TracerHandle {
    pid: i32,
    launched: bool,
    tx: Sender<Request>,
    bell: Arc<CommandBell>,
    events: Receiver<Event>,
    next_id: AtomicU64,
    join: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    /// This handle's own view of the target's memory, for reads at rest without a round trip
    /// to the tracer thread; tagged with the exec generation it was opened in.
    direct: std::sync::Mutex<Option<(u64, memory::Memory)>>,
}

impl TracerHandle {
    /// Seizes every thread of `pid` and interrupts them all. Returns once every thread is
    /// seized; the `AllStopped` event follows when each has reported its stop.
    pub fn attach(pid: i32, opts: Options) -> Result<Self> {
        Self::start(Target::Attach { pid, once: None }, opts)
    }

    /// A snapshot with the shortest stop: seizes and interrupts every thread, and once all
    /// have stopped runs `job` on the tracer thread with the picture, then detaches at once,
    /// with no round trip to the caller in between. The `AllStopped` event and `Detached`
    /// follow on the event stream; `shutdown` then only joins the tracer thread. `job` is
    /// dropped unrun when the stop never completes (the process exits).
    pub fn attach_once(pid: i32, opts: Options, job: WhileStopped) -> Result<Self> {
        Self::start(
            Target::Attach {
                pid,
                once: Some(job),
            },
            opts,
        )
    }

    /// Starts `program` under the tracer, stopped at its exec before its first instruction.
    pub fn launch(program: &str, args: &[String], opts: Options) -> Result<Self> {
        Self::start(
            Target::Launch {
                program: program.to_string(),
                args: args.to_vec(),
            },
            opts,
        )
    }

    fn start(target: Target, opts: Options) -> Result<Self> {
        let launched = matches!(target, Target::Launch { .. });
        let bell = Arc::new(CommandBell::new().map_err(|e| TraceError::Os {
            op: "eventfd",
            errno: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
        })?);
        let (tx, rx) = unbounded();
        let (ev_tx, ev_rx) = unbounded();
        let (ready_tx, ready_rx) = bounded(1);
        let thread_bell = bell.clone();
        let shared = Arc::new(Shared::default());
        let thread_shared = shared.clone();
        let join = std::thread::Builder::new()
            .name("ptscope-tracer".into())
            .spawn(move || {
                engine::run(
                    target,
                    opts,
                    thread_shared,
                    rx,
                    thread_bell,
                    ev_tx,
                    ready_tx,
                )
            })
            .map_err(|_| TraceError::TracerGone)?;
        match ready_rx.recv() {
            Ok(Ok(pid)) => Ok(TracerHandle {
                pid,
                launched,
                tx,
                bell,
                events: ev_rx,
                next_id: AtomicU64::new(1),
                join: Some(join),
                shared,
                direct: std::sync::Mutex::new(None),
            }),
            Ok(Err(e)) => {
                let _ = join.join();
                Err(e)
            }
            Err(_) => {
                let _ = join.join();
                Err(TraceError::TracerGone)
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The stream of everything the tracer saw, in order. A stop, a reply, a write or the
    /// process's end is sent at once; a routine event (a report that left its thread running,
    /// a thread's end while the process runs, a note, a logged line, a trace hit) may wait up
    /// to 40 ms for company (`engine/outbox.rs`). Everything emitted before a `call`'s answer
    /// is on this stream before the answer returns.
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    /// Sends a command without waiting; its answer arrives as `EventKind::Reply { id, .. }`.
    pub fn send(&self, cmd: Command) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if self
            .tx
            .send(Request {
                cmd,
                reply: ReplyTo::Event(id),
            })
            .is_ok()
        {
            self.bell.ring();
        }
        id
    }

    /// Sends a command and waits for its answer, at most `timeout`.
    pub fn call_timeout(&self, cmd: Command, timeout: Duration) -> Result<Reply> {
        let (tx, rx) = bounded(1);
        self.tx
            .send(Request {
                cmd,
                reply: ReplyTo::Channel(tx),
            })
            .map_err(|_| TraceError::TracerGone)?;
        self.bell.ring();
        // Most answers (a step, a register read) take microseconds: look for the answer
        // without sleeping for a short, bounded moment first, as the tracer thread looks for
        // the next command (`Engine::linger`); being woken costs more than the wait.
        let spin = Instant::now() + Duration::from_micros(150).min(timeout);
        while Instant::now() < spin {
            match rx.try_recv() {
                Ok(r) => return r,
                Err(crossbeam_channel::TryRecvError::Disconnected) => {
                    return Err(TraceError::TracerGone)
                }
                Err(crossbeam_channel::TryRecvError::Empty) => std::thread::yield_now(),
            }
        }
        match rx.recv_timeout(timeout) {
            Ok(r) => r,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(TraceError::Timeout("reply")),
            Err(_) => Err(TraceError::TracerGone),
        }
    }

    /// `call_timeout` with a bound generous enough for any healthy process.
    pub fn call(&self, cmd: Command) -> Result<Reply> {
        self.call_timeout(cmd, Duration::from_secs(10))
    }

    /// Reads target memory. While the process is at rest (no int3 of ours in memory) this is
    /// one process_vm_readv on the calling thread, with no round trip to the tracer thread
    /// (process_vm_readv is not a ptrace request and works from any thread); otherwise the
    /// tracer thread reads and hides our int3 bytes.
    pub fn read_memory(&self, addr: u64, len: usize) -> Result<MemoryRead> {
        let seq = self.shared.text_seq.load(Ordering::Acquire);
        if seq.is_multiple_of(2) {
            if let Some(bytes) = self.read_direct(addr, len) {
                if self.shared.text_seq.load(Ordering::Acquire) == seq {
                    if bytes.is_empty() && len > 0 {
                        return Err(TraceError::Unreadable { addr, len, read: 0 });
                    }
                    return Ok(MemoryRead {
                        addr,
                        bytes,
                        requested: len,
                    });
                }
            }
        }
        match self.call(Command::ReadMemory { addr, len })? {
            Reply::Memory(m) => Ok(m),
            _ => Err(TraceError::TracerGone),
        }
    }

    fn read_direct(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let generation = self.shared.mm_generation.load(Ordering::Acquire);
        let mut direct = self.direct.lock().ok()?;
        if direct.as_ref().is_none_or(|(g, _)| *g != generation) {
            let mem = memory::Memory::open(self.pid).ok().or_else(|| {
                // A zombie leader has no memory: go through any live thread.
                crate::procinfo::tasks::list_tids(self.pid)
                    .ok()?
                    .into_iter()
                    .find_map(|t| memory::Memory::open_thread(self.pid, t).ok())
            })?;
            *direct = Some((generation, mem));
        }
        let bytes = direct.as_ref()?.1.read(addr, len);
        (self.shared.mm_generation.load(Ordering::Acquire) == generation).then_some(bytes)
    }

    pub fn snapshot(&self) -> Result<Snapshot> {
        match self.call(Command::Snapshot)? {
            Reply::Snapshot(s) => Ok(*s),
            _ => Err(TraceError::TracerGone),
        }
    }

    /// Detaches (attached process) or kills (launched), then waits for the tracer thread.
    pub fn shutdown(mut self) -> Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> Result<()> {
        let Some(join) = self.join.take() else {
            return Ok(());
        };
        let cmd = if self.launched {
            Command::Kill
        } else {
            Command::Detach
        };
        let res = match self.call_timeout(cmd, Duration::from_secs(10)) {
            Ok(_) | Err(TraceError::TracerGone) => Ok(()),
            Err(TraceError::ProcessExited) | Err(TraceError::Detached) => Ok(()),
            Err(e) => Err(e),
        };
        drop(std::mem::replace(&mut self.tx, unbounded().0));
        self.bell.ring();
        let _ = join.join();
        res
    }
}

impl Drop for TracerHandle {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}
