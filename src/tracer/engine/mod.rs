//! The tracer thread: every ptrace call of one traced process happens here.
//!
//! It sleeps in a blocking wait4 while the process runs and in epoll otherwise (`doorbell.rs`
//! says why and how a command wakes either), reaps wait statuses of its own tracees only, runs
//! each through the state machine in `thread.rs`, carries out the action, and publishes what
//! happened as owned events. The process as a whole is in one `Phase`
//! (`phase.rs`), moved on in one place after every report and command.
//!
//! By job: `attach.rs` (attach, launch, abandon), `stops.rs` (each wait status and what is
//! done about it), `all_stop.rs` (stopping every thread and the picture taken then),
//! `commands.rs` (what front ends ask), `detach.rs` (every way of letting go), `int3.rs` (our
//! int3 bytes going in and out of the target's memory), `stepping.rs` (step over, finish and
//! line step: commands made of several single steps and continues), `watch.rs` (hardware
//! watchpoints in and out of the threads' debug registers), `writes.rs` (register and memory
//! edits).

mod all_stop;
mod attach;
mod commands;
mod conditions;
mod detach;
mod inject;
mod int3;
mod outbox;
mod phase;
mod regsets;
mod step_out_of_line;
mod stepping;
mod stops;
mod stragglers;
#[cfg(test)]
mod tests;
mod watch;
mod writes;

use super::breakpoints::Breakpoints;
use super::doorbell::{Alarm, CommandBell, Woke};
use super::error::{Result, TraceError};
use super::event::{Event, EventKind, Reply, Transition};
use super::memory::Memory;
use super::ptrace as pt;
use super::rules::Rules;
use super::signals::SignalPolicy;
use super::status::RawStatus;
use super::thread::{ThreadState, Tid, TraceeState};
use super::tracee::Tracees;
use super::wakeup::{ChildSignals, ChildWakeup};
use super::watchpoints::Watchpoints;
use super::{Options, PassHits, ReplyTo, Request, Shared, Target, WhileStopped};
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use phase::{Phase, Waiter};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(super) struct Engine {
    pid: i32,
    launched: bool,
    my_tid: Tid,
    tracees: Tracees,
    bps: Breakpoints,
    /// What breakpoints with a condition, ignore count, log text or trace do at a hit.
    rules: Rules,
    /// Scratch pages where hits that do not stop run the breakpoint's instruction.
    ool: step_out_of_line::OutOfLine,
    pass_hits: PassHits,
    /// What ptscope wants in the debug registers; each tracee records what they hold.
    watch: Watchpoints,
    mem: Memory,
    policy: SignalPolicy,
    stop_on_thread_events: bool,
    events: Sender<Event>,
    /// Events not sent yet: they go out together at the end of a round of work, so that a
    /// front end parked on the channel is woken once per round, not once per event (a wake-up
    /// per event was a quarter of the tracer's CPU in a storm of thread births, perf).
    outbox: Vec<Event>,
    /// Whether an event in the outbox must go out at once (`outbox.rs`).
    urgent: bool,
    seq: u64,
    start: Instant,
    /// Where the process as a whole is; see `Phase`.
    phase: Phase,
    /// Commands answered once something has happened (all stopped, step done, resumed...).
    waiters: Vec<Waiter>,
    /// Threads just settled (PTRACE_INTERRUPT + PTRACE_CONT(0)): each reports its event-stop at
    /// once, before running any user instruction, so it is waited for directly rather than
    /// through the SIGCHLD -> eventfd -> poll round trip.
    settling: Vec<Tid>,
    /// What the front ends' direct memory reads need to know (see `TracerHandle::read_memory`).
    shared: Arc<Shared>,
    /// An action of ours just set threads moving: look for their reports briefly before
    /// sleeping (see `reap_soon`). An optimisation, not a phase.
    expect_reports: bool,
    /// While an all-stop waits for threads: when to ask /proc about those that have not
    /// stopped (`stragglers.rs`).
    stragglers: Option<stragglers::StragglerWatch>,
    /// A stepping command of several legs on its way (`stepping.rs`).
    job: Option<stepping::StepJob>,
    /// A thread was just born: the next report of its birth (the newborn's first stop, or
    /// the parent's event) is looked for briefly before sleeping (`reap_births`).
    births: bool,
    /// Reports the blocking wait returned that were handled alone since the last full reap
    /// (`reap_from`).
    lone_reports: u32,
    /// An all-stop was just published: its front end's answer (a continue, a step) is looked
    /// for briefly before sleeping (`linger`).
    just_published: bool,
    /// A one-shot snapshot's copy, run at the first all-stop before its detach
    /// (`TracerHandle::attach_once`).
    once: Option<WhileStopped>,
}

pub(super) fn run(
    target: Target,
    opts: Options,
    shared: Arc<Shared>,
    rx: Receiver<Request>,
    bell: Arc<CommandBell>,
    events: Sender<Event>,
    ready: Sender<Result<i32>>,
) {
    let wake = match ChildWakeup::new() {
        Ok(w) => w,
        Err(e) => {
            let _ = ready.send(Err(TraceError::Os {
                op: "eventfd",
                errno: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            }));
            return;
        }
    };
    // SIGCHLD is blocked on this thread before the first seize, so that no tracee report
    // costs it a signal frame: a thousand-thread attach reports a thousand stops while it
    // still interrupts (saving the FPU state for the handler showed in perf there). The
    // reports are heard through the signalfd, or through the handler on another thread.
    let signals = match ChildSignals::new() {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(TraceError::Os {
                op: "signalfd",
                errno: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            }));
            return;
        }
    };
    let started = match target {
        Target::Attach { pid, once } => {
            Engine::attach(pid, &opts, once, events, (&wake, &signals), &shared)
        }
        Target::Launch { program, args } => Engine::launch(&program, &args, &opts, &shared, events),
    };
    let mut engine = match started {
        Ok(e) => e,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(engine.pid));
    engine.serve(&rx, &bell, &wake, &signals);
}

impl Engine {
    fn new(
        pid: i32,
        launched: bool,
        opts: &Options,
        events: Sender<Event>,
        mem: Memory,
        shared: &Arc<Shared>,
        phase: Phase,
    ) -> Self {
        Engine {
            pid,
            launched,
            my_tid: pt::gettid(),
            tracees: Tracees::default(),
            bps: Breakpoints::default(),
            rules: Rules::default(),
            ool: step_out_of_line::OutOfLine::default(),
            pass_hits: opts.pass_hits,
            watch: Watchpoints::default(),
            mem,
            policy: SignalPolicy::default(),
            stop_on_thread_events: opts.stop_on_thread_events,
            events,
            outbox: Vec::new(),
            urgent: false,
            seq: 0,
            start: Instant::now(),
            phase,
            waiters: Vec::new(),
            settling: Vec::new(),
            shared: shared.clone(),
            expect_reports: false,
            stragglers: None,
            job: None,
            births: false,
            lone_reports: 0,
            just_published: false,
            once: None,
        }
    }

    // ---------------------------------------------------------------- main loop

    fn serve(
        &mut self,
        rx: &Receiver<Request>,
        bell: &CommandBell,
        wake: &ChildWakeup,
        signals: &ChildSignals,
    ) {
        let epoll = match sleep_set(wake, bell, signals) {
            Ok(e) => e,
            Err(e) => {
                self.note(None, format!("epoll: {e}; letting go of the process"));
                self.release_everything();
                return;
            }
        };
        bell.serve_on_this_thread();
        let mut alarm = Alarm::new();
        let mut woke_with = None;
        loop {
            // Reports first, and what they complete (a step answered early is finished here),
            // so that a command finds the process where its reports put it.
            if self.reap_from(woke_with.take()) > 0 {
                self.progress();
            }
            let mut commands = false;
            loop {
                match rx.try_recv() {
                    Ok(req) => {
                        commands = true;
                        self.handle_request(req);
                        self.progress();
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        // Every handle is gone without a detach: leave the target as it was.
                        self.release_everything();
                        return;
                    }
                }
            }
            self.progress();
            self.flush_due_events();
            if self.expect_reports {
                self.expect_reports = false;
                self.reap_soon();
                continue;
            }
            if self.phase.is_over() {
                return;
            }
            if (commands || std::mem::take(&mut self.just_published)) && self.linger(rx) {
                continue;
            }
            if std::mem::take(&mut self.births)
                && !matches!(self.phase, Phase::Running)
                && self.reap_births()
            {
                continue;
            }
            woke_with = self.sleep(&epoll, (wake, bell, signals), &mut alarm);
        }
    }

    /// Sleeps until a tracee reports, a command is queued or a deadline comes: with no
    /// timeout unless an all-stop waits for threads that may never stop (`stragglers.rs`) or
    /// routine events wait to be sent (`outbox.rs`), so an idle target costs nothing. While the
    /// process runs, in a blocking wait4, which returns the report it was woken for; otherwise
    /// in epoll (an all-stop reads its reports by tid, `reap_interrupted`, which a waitpid(-1)
    /// would not let it do).
    fn sleep(
        &mut self,
        epoll: &Epoll,
        (wake, bell, signals): (&ChildWakeup, &CommandBell, &ChildSignals),
        alarm: &mut Alarm,
    ) -> Option<(Tid, i32)> {
        if matches!(self.phase, Phase::Running) && self.settling.is_empty() {
            let hold = self.hold_until();
            alarm.want(hold);
            // Without a timer (timer_create failed) held events need epoll's timeout.
            if hold.is_none() || alarm.is_set() {
                let woke = bell.wait(libc::__WALL | libc::__WNOTHREAD);
                bell.awake();
                match woke {
                    Woke::Report(tid, raw) => return Some((tid, raw)),
                    Woke::Interrupted => return None,
                    // Only the launched program's own children are left (never the case
                    // while it runs traced); epoll below does not spin on it.
                    Woke::NoChildren => {}
                }
            }
        }
        alarm.want(None);
        let mut events = [EpollEvent::empty(); 3];
        let mut ms = self.poll_timeout_ms();
        if let Some(left) = self.hold_left() {
            let hold = left.as_micros().div_ceil(1000).clamp(1, i32::MAX as u128) as i32;
            ms = if ms < 0 { hold } else { ms.min(hold) };
        }
        let timeout = EpollTimeout::try_from(ms).unwrap_or(EpollTimeout::NONE);
        if bell.going_to_epoll() {
            // EINTR: look again from the top.
            if let Ok(n) = epoll.wait(&mut events, timeout) {
                for ev in &events[..n] {
                    match ev.data() {
                        WAKE => wake.drain(),
                        BELL => bell.drain(),
                        // Only what is ready is read: a system call less per wake-up.
                        _ => signals.take(wake),
                    }
                }
            }
        }
        bell.awake();
        None
    }

    /// A thread birth is two reports (the parent's PTRACE_EVENT_CLONE, the newborn's first
    /// stop), each blocking a thread until it is handled: the second is looked for for a short,
    /// bounded moment before sleeping in epoll, which a storm of thread births is made of.
    /// Not while the process runs: the blocking wait4 returns that report as soon as it comes,
    /// and looking for it cost a third of the tracer's CPU in a storm of 10,000 births (perf:
    /// `__schedule` from sched_yield, clock reads; 440 -> 310 ms, 0.44x -> 0.65x raw).
    fn reap_births(&mut self) -> bool {
        const WINDOW: Duration = Duration::from_micros(50);
        let deadline = Instant::now() + WINDOW;
        while Instant::now() < deadline {
            if self.reap_and_move_on() {
                return true;
            }
            std::thread::yield_now();
        }
        false
    }

    /// Right after answering a command, the front end's next one usually follows within
    /// microseconds (a key held down, a script stepping): sleeping in poll and being woken by
    /// the bell costs more than the step itself. So look for it, and for reports, for a short,
    /// bounded moment before sleeping. The same after publishing a stop, which a front end
    /// answers at once when it passes through hits (a script, the benchmark: one hot thread's
    /// hits 5,050-5,100 a second against 4,500-4,800 without). Armed only by a command or a
    /// stop: an idle tracer does not spin.
    fn linger(&mut self, rx: &Receiver<Request>) -> bool {
        const WINDOW: Duration = Duration::from_micros(250);
        let deadline = Instant::now() + WINDOW;
        while Instant::now() < deadline {
            if !rx.is_empty() || self.phase.is_over() {
                return true;
            }
            if self.reap_and_move_on() {
                return true;
            }
            std::thread::yield_now();
        }
        false
    }

    /// Reaps, and moves on what the reports complete, before any command is taken: a look
    /// outside the loop's top must, since the top then finds nothing more to reap (seen: a
    /// settle reaped while lingering left its step unfinished, and the next Step, sent the
    /// moment the last was answered, found "the stop is not complete yet").
    fn reap_and_move_on(&mut self) -> bool {
        let reaped = self.reap() > 0;
        if reaped {
            self.progress();
        }
        reaped
    }

    /// Handles the report the blocking wait4 returned (`sleep`), alone: looking for others
    /// too would cost a waitpid that mostly finds nothing (a third of the system calls per
    /// passed-on signal). Every `LONE_REPORTS`th one is read with every other report waiting
    /// (`reap`), so that a hot thread that reports again at once cannot keep the threads after
    /// it in the kernel's list waiting for long (see `reap`).
    fn reap_from(&mut self, first: Option<(Tid, i32)>) -> usize {
        const LONE_REPORTS: u32 = 8;
        let Some((tid, raw)) = first else {
            return self.reap();
        };
        if self.settling.is_empty() && self.lone_reports < LONE_REPORTS {
            self.lone_reports += 1;
            self.handle_status(tid, raw);
            return 1;
        }
        self.lone_reports = 0;
        self.reap_with(vec![(tid, raw)])
    }

    /// Reaps every status waiting for this thread's tracees. __WNOTHREAD keeps other tracer
    /// threads' statuses theirs; __WALL includes non-leader threads.
    fn reap(&mut self) -> usize {
        self.reap_with(Vec::new())
    }

    /// `reap`, with reports already read (`reap_from`) handled in the first batch.
    fn reap_with(&mut self, mut first: Vec<(Tid, i32)>) -> usize {
        let mut handled = 0;
        loop {
            if let Some(tid) = self.settling.pop() {
                let (r, raw) = wait_settling(tid);
                if r == tid {
                    self.handle_status(tid, raw);
                    handled += 1;
                } else if r < 0 && Errno::last() == Errno::EINTR {
                    self.settling.push(tid);
                }
                continue;
            }
            // Every report waiting now, then each handled: waitpid(-1) returns the first
            // tracee in the kernel's list that has one, so a thread that is resumed and reports
            // again before the next call (a hot breakpoint whose hits pass) would always come
            // first, and the threads after it in the list would wait for ever. Nothing is
            // resumed while the batch is read, so it ends, and each thread is in it once.
            let mut batch = std::mem::take(&mut first);
            batch.extend(self.reap_interrupted());
            loop {
                let mut raw = 0;
                // SAFETY: as above; WNOHANG makes it return at once when nothing is waiting.
                let r = unsafe {
                    libc::waitpid(
                        -1,
                        &mut raw,
                        libc::__WALL | libc::__WNOTHREAD | libc::WNOHANG,
                    )
                };
                if r > 0 {
                    batch.push((r, raw));
                } else if r < 0 && Errno::last() == Errno::EINTR {
                    continue;
                } else {
                    break;
                }
            }
            if batch.is_empty() {
                break;
            }
            for (tid, raw) in batch {
                self.handle_status(tid, raw);
                handled += 1;
            }
            // A report that comes after the last look wakes the sleep (wait4 returns it; epoll
            // hears its SIGCHLD); looking again now would cost a system call that mostly finds
            // nothing.
            if self.settling.is_empty() {
                break;
            }
        }
        handled
    }

    /// While an all-stop waits, the reports of the threads it interrupted, each looked for by
    /// its tid. waitpid(-1) looks through every tracee of this thread until it finds one with
    /// a report (`wait_consider_task` was most of the tracer's time in a 1,000-thread dump,
    /// perf): a thousand reports read that way cost half a million looks, by tid one each.
    /// What else is waiting (births, exits) the waitpid(-1) after this still finds.
    fn reap_interrupted(&mut self) -> Vec<(Tid, i32)> {
        let mut batch = Vec::new();
        // Only for a one-shot snapshot (a dump), which resumes nothing until its detach: in an
        // all-stop that steps threads past hits (`AfterStop::Resume`) with hot threads
        // re-hitting at once, looking for each interrupted thread at every pass kept the
        // reap loop from ever ending (the trace benchmark hung in it).
        if self.once.is_none() || !matches!(self.phase, Phase::AllStopping { .. }) {
            return batch;
        }
        for tid in self
            .tracees
            .tids_where(|t| t.state == TraceeState::Stopping)
        {
            let mut raw = 0;
            // SAFETY: `raw` is a valid out-pointer for the status; waitpid writes only it.
            // WNOHANG: a thread not stopped yet is looked at again at the next report.
            let r = unsafe {
                libc::waitpid(
                    tid,
                    &mut raw,
                    libc::__WALL | libc::__WNOTHREAD | libc::WNOHANG,
                )
            };
            if r == tid {
                batch.push((tid, raw));
            }
        }
        batch
    }

    /// Right after ptscope itself set threads moving (a step, interrupts, step-overs) their
    /// reports come within microseconds. Waiting for them through SIGCHLD -> eventfd -> poll
    /// costs more than the step itself, so look for them directly for a short, bounded moment
    /// (yielding the CPU to the tracee between looks) before going to sleep in poll. Nothing
    /// spins while the process just runs: only an action of ours arms this.
    fn reap_soon(&mut self) {
        const WINDOW: Duration = Duration::from_micros(200);
        let deadline = Instant::now() + WINDOW;
        loop {
            if self.reap_and_move_on() {
                self.flush_events();
            }
            let waiting = self.tracees.live().any(|(_, t)| {
                matches!(
                    t.state.view(),
                    ThreadState::Stepping | ThreadState::Stopping
                )
            });
            if !waiting || self.phase.is_over() || Instant::now() >= deadline {
                return;
            }
            std::thread::yield_now();
        }
    }

    // ---------------------------------------------------------------- events out

    fn note(&mut self, tid: Option<Tid>, text: String) {
        self.emit(EventKind::Note { tid, text });
    }

    fn transition(
        &mut self,
        tid: Tid,
        old: ThreadState,
        new: ThreadState,
        status: Option<RawStatus>,
        note: &'static str,
    ) {
        let cause = self.tracees.get(tid).and_then(|t| t.cause);
        self.emit(EventKind::Transition(Transition {
            tid,
            old,
            new,
            cause,
            status,
            note,
        }));
    }

    fn reply(&mut self, to: ReplyTo, result: Result<Reply>) {
        match to {
            ReplyTo::Channel(tx) => {
                // What happened before the answer is on the event stream before it.
                self.flush_events();
                let _ = tx.send(result);
            }
            ReplyTo::Event(id) => self.emit(EventKind::Reply { id, result }),
        }
    }
}

const WAKE: u64 = 0;
const BELL: u64 = 1;
const SIGNALS: u64 = 2;

fn sleep_set(wake: &ChildWakeup, bell: &CommandBell, signals: &ChildSignals) -> nix::Result<Epoll> {
    let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
    epoll.add(wake.fd(), EpollEvent::new(EpollFlags::EPOLLIN, WAKE))?;
    epoll.add(bell.fd(), EpollEvent::new(EpollFlags::EPOLLIN, BELL))?;
    epoll.add(signals.fd(), EpollEvent::new(EpollFlags::EPOLLIN, SIGNALS))?;
    Ok(epoll)
}

/// The report of a thread just settled: it comes within microseconds (the thread runs no user
/// instruction), so it is looked for without sleeping first, briefly, then waited for.
fn wait_settling(tid: Tid) -> (i32, i32) {
    const WINDOW: Duration = Duration::from_micros(200);
    let deadline = Instant::now() + WINDOW;
    loop {
        let mut raw = 0;
        // SAFETY: `raw` is a valid out-pointer for the status; waitpid writes only it.
        let r = unsafe { libc::waitpid(tid, &mut raw, libc::__WALL | libc::WNOHANG) };
        if r != 0 {
            return (r, raw);
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::yield_now();
    }
    let mut raw = 0;
    // SAFETY: as above, blocking.
    let r = unsafe { libc::waitpid(tid, &mut raw, libc::__WALL) };
    (r, raw)
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.release_everything();
        self.flush_events();
    }
}
