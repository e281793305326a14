//! The tracer thread: every ptrace call of one traced process happens here.
//!
//! It sleeps in poll(2) on two eventfds (tracee stops, commands), reaps wait statuses of its own
//! tracees only, runs each through the state machine in `thread.rs`, carries out the action,
//! and publishes what happened as owned events. All-stop, continue with step-over, detach and
//! every safety rule for the target live here.

use super::breakpoints::Breakpoints;
use super::error::{Result, TraceError};
use super::event::{
    Command, Event, EventKind, MemoryRead, ProcessState, Reply, Snapshot, ThreadInfo, Transition,
};
use super::launch;
use super::memory::Memory;
use super::preflight;
use super::ptrace as pt;
use super::signals::{signal_name, SignalPolicy};
use super::status::{ExitKind, PtraceEvent, RawStatus, WaitStatus};
use super::thread::{decide, Action, StopCause, StopFacts, ThreadState, Tid, SI_KERNEL};
use super::wakeup::{ChildWakeup, CommandBell};
use super::{Options, ReplyTo, Request, Shared, Target};
use crate::procinfo::{maps, tasks};
use crate::regs::Registers;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use nix::errno::Errno;
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Thread {
    name: String,
    state: ThreadState,
    cause: Option<StopCause>,
    /// A signal held in a signal-delivery-stop, delivered when the thread is resumed.
    held_signal: Option<i32>,
    /// Parked with PTRACE_LISTEN in a job-control stop.
    listening: bool,
    /// Released from its exit stop: it dies on its own and is never stopped or resumed again.
    released: bool,
    /// A leader that exited before the other threads: the kernel reports nothing for it until
    /// the last thread is gone.
    zombie: bool,
    /// Being single-stepped over a breakpoint as the first half of a continue.
    step_over: bool,
    /// Born while the process runs; to be resumed once its first stop is reported.
    resume_after_first_stop: bool,
    /// A PTRACE_SINGLESTEP is in flight (see StopFacts::stepping).
    stepping: bool,
    /// Registers as of the thread's last stop; None once it has run since.
    regs: Option<Registers>,
    /// When ptscope first saw the thread: young threads still rename themselves.
    seen_at: Instant,
    /// The name was read when the thread was old enough not to rename itself any more.
    name_final: bool,
}

impl Thread {
    fn new(name: String, state: ThreadState) -> Self {
        Thread {
            name,
            state,
            cause: None,
            held_signal: None,
            listening: false,
            released: false,
            zombie: false,
            step_over: false,
            resume_after_first_stop: false,
            stepping: false,
            regs: None,
            seen_at: Instant::now(),
            name_final: false,
        }
    }

    /// Threads the engine still drives: not dying on their own, not a zombie leader.
    fn is_live(&self) -> bool {
        !self.released && !self.zombie && self.state != ThreadState::Exited
    }
}

enum Waiter {
    AllStopped(ReplyTo),
    StepDone(Tid, ReplyTo),
    Resumed(ReplyTo),
}

pub(super) struct Engine {
    pid: i32,
    launched: bool,
    my_tid: Tid,
    threads: BTreeMap<Tid, Thread>,
    bps: Breakpoints,
    mem: Memory,
    policy: SignalPolicy,
    stop_on_thread_events: bool,
    events: Sender<Event>,
    seq: u64,
    start: Instant,
    /// The user (or the launch) wants the process running.
    want_running: bool,
    /// The last all-stop was announced and nothing has run since.
    world_stopped: bool,
    stopped_by: Option<Tid>,
    /// Step-overs of a continue are in flight.
    continuing: bool,
    waiters: Vec<Waiter>,
    detach_reply: Option<ReplyTo>,
    killing: Option<ReplyTo>,
    exit: Option<ExitKind>,
    finished: bool,
    /// Threads just settled (PTRACE_INTERRUPT + PTRACE_CONT(0)): each reports its event-stop at
    /// once, before running any user instruction, so it is waited for directly rather than
    /// through the SIGCHLD -> eventfd -> poll round trip.
    settling: Vec<Tid>,
    /// What the front ends' direct memory reads need to know (see `TracerHandle::read_memory`).
    shared: Arc<Shared>,
    /// An action of ours just set threads moving: look for their reports briefly before
    /// sleeping (see `reap_soon`).
    expect_reports: bool,
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
    let started = match target {
        Target::Attach(pid) => Engine::attach(pid, &opts, events, &wake, &shared),
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
    engine.serve(&rx, &bell, &wake);
}

impl Engine {
    fn new(
        pid: i32,
        launched: bool,
        opts: &Options,
        events: Sender<Event>,
        mem: Memory,
        shared: &Arc<Shared>,
    ) -> Self {
        Engine {
            pid,
            launched,
            my_tid: pt::gettid(),
            threads: BTreeMap::new(),
            bps: Breakpoints::default(),
            mem,
            policy: SignalPolicy::default(),
            stop_on_thread_events: opts.stop_on_thread_events,
            events,
            seq: 0,
            start: Instant::now(),
            want_running: false,
            world_stopped: false,
            stopped_by: None,
            continuing: false,
            waiters: Vec::new(),
            detach_reply: None,
            killing: None,
            exit: None,
            finished: false,
            settling: Vec::new(),
            shared: shared.clone(),
            expect_reports: false,
        }
    }

    /// Seizes every thread, re-listing /proc/PID/task until a whole pass finds no thread we
    /// have not seen (threads are born while we attach), then interrupts them all.
    fn attach(
        pid: i32,
        opts: &Options,
        events: Sender<Event>,
        wake: &ChildWakeup,
        shared: &Arc<Shared>,
    ) -> Result<Self> {
        preflight::check_target(pid)?;
        // A zombie leader has no memory of its own any more; any live thread's view will do.
        let mem = Memory::open(pid).or_else(|e| {
            let tids = tasks::list_tids(pid).unwrap_or_default();
            tids.iter()
                .find_map(|t| Memory::open_thread(pid, *t).ok())
                .ok_or(e)
        })?;
        let mut e = Engine::new(pid, false, opts, events, mem, shared);
        let options = pt::options(false);
        let mut seen = std::collections::HashSet::new();
        loop {
            let tids = tasks::list_tids(pid).map_err(|_| TraceError::NoSuchProcess(pid))?;
            let mut found_new = false;
            for tid in tids {
                if !seen.insert(tid) {
                    continue;
                }
                found_new = true;
                match pt::seize(tid, options) {
                    Ok(()) => {
                        // It lived before we came: its name is the one it chose.
                        let mut t = Thread::new(tasks::thread_name(pid, tid), ThreadState::Running);
                        t.name_final = true;
                        e.threads.insert(tid, t);
                    }
                    // Gone between the listing and the seize.
                    Err(Errno::ESRCH) => {}
                    Err(Errno::EPERM) if tasks::thread_is_zombie(pid, tid) => {
                        let mut t = Thread::new(tasks::thread_name(pid, tid), ThreadState::Exiting);
                        t.zombie = true;
                        e.threads.insert(tid, t);
                    }
                    // Auto-attached already through PTRACE_O_TRACECLONE of its parent.
                    Err(Errno::EPERM) if tasks::tracer_of(pid, tid) == Some(e.my_tid) => {
                        e.threads.entry(tid).or_insert_with(|| {
                            let mut t =
                                Thread::new(tasks::thread_name(pid, tid), ThreadState::Stopping);
                            t.cause = None;
                            t
                        });
                    }
                    Err(Errno::EPERM) if tid != pid && !e.threads.is_empty() => {
                        // A thread dying while we attach can refuse; the rest is still ours.
                    }
                    Err(err) => {
                        let error = if err == Errno::EPERM {
                            preflight::explain_eperm(pid)
                        } else if err == Errno::ESRCH {
                            TraceError::NoSuchProcess(pid)
                        } else {
                            TraceError::Os {
                                op: "PTRACE_SEIZE",
                                errno: err,
                            }
                        };
                        e.abandon_attach(wake);
                        return Err(error);
                    }
                }
            }
            if !found_new {
                break;
            }
        }
        if !e.threads.values().any(|t| t.is_live()) {
            e.abandon_attach(wake);
            return Err(TraceError::NoSuchProcess(pid));
        }
        e.note(
            None,
            format!("seized {} threads with PTRACE_SEIZE", e.threads.len()),
        );
        e.begin_all_stop(None);
        Ok(e)
    }

    /// Undoes a partial attach: the threads seized so far are running, and PTRACE_DETACH only
    /// works on a stopped tracee, so stop them first, briefly.
    fn abandon_attach(&mut self, wake: &ChildWakeup) {
        self.begin_all_stop(None);
        let deadline = Instant::now() + std::time::Duration::from_secs(2);
        while !self.all_settled() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let mut fds = [libc::pollfd {
                fd: wake.fd().as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            unsafe { libc::poll(fds.as_mut_ptr(), 1, left.as_millis().max(1) as i32) };
            wake.drain();
            self.reap();
        }
        for (tid, t) in &self.threads {
            if t.is_live() {
                let _ = pt::detach(*tid, t.held_signal.unwrap_or(0));
            }
        }
        self.threads.clear();
        self.finished = true;
    }

    fn launch(
        program: &str,
        args: &[String],
        opts: &Options,
        shared: &Arc<Shared>,
        events: Sender<Event>,
    ) -> Result<Self> {
        let child = launch::fork_child(program, args, &opts.stdio)?;
        let pid = child.pid;
        if let Err(err) = pt::seize(pid, pt::options(true)) {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            return Err(TraceError::Launch {
                program: program.to_string(),
                reason: format!("PTRACE_SEIZE failed: {err}"),
            });
        }
        let errno_rx = child.release();
        // Until the exec the child is only ours: wait for it directly.
        loop {
            let mut raw = 0;
            let r = unsafe { libc::waitpid(pid, &mut raw, libc::__WALL) };
            if r < 0 {
                if Errno::last() == Errno::EINTR {
                    continue;
                }
                return Err(launch::exec_error(program, &errno_rx));
            }
            match WaitStatus::decode(raw) {
                WaitStatus::EventStop {
                    event: PtraceEvent::Exec,
                } => break,
                WaitStatus::Exited { .. } | WaitStatus::Killed { .. } => {
                    return Err(launch::exec_error(program, &errno_rx));
                }
                WaitStatus::SignalDeliveryStop { sig } => {
                    let _ = pt::cont(pid, sig);
                }
                _ => {
                    let _ = pt::cont(pid, 0);
                }
            }
        }
        // Opened after the exec: a /proc/PID/mem opened before it would still see the old image.
        let mem = Memory::open(pid)?;
        let mut e = Engine::new(pid, true, opts, events, mem, shared);
        let mut t = Thread::new(tasks::thread_name(pid, pid), ThreadState::Stopped);
        t.cause = Some(StopCause::Exec);
        e.threads.insert(pid, t);
        e.stopped_by = Some(pid);
        e.note(
            Some(pid),
            format!("launched {program}: stopped at PTRACE_EVENT_EXEC"),
        );
        Ok(e)
    }

    // ---------------------------------------------------------------- main loop

    fn serve(&mut self, rx: &Receiver<Request>, bell: &CommandBell, wake: &ChildWakeup) {
        loop {
            self.reap();
            loop {
                match rx.try_recv() {
                    Ok(req) => {
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
            if self.expect_reports {
                self.expect_reports = false;
                self.reap_soon();
                continue;
            }
            if self.finished {
                return;
            }
            let mut fds = [
                libc::pollfd {
                    fd: wake.fd().as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: bell.fd().as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // Blocks with no timeout: an idle target costs nothing. EINTR (our own SIGCHLD
            // handler running on this thread) just loops.
            unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
            wake.drain();
            bell.drain();
        }
    }

    /// Reaps every status waiting for this thread's tracees. __WNOTHREAD keeps other tracer
    /// threads' statuses theirs; __WALL includes non-leader threads.
    fn reap(&mut self) -> usize {
        let mut handled = 0;
        loop {
            if let Some(tid) = self.settling.pop() {
                let mut raw = 0;
                let r = unsafe { libc::waitpid(tid, &mut raw, libc::__WALL) };
                if r == tid {
                    self.handle_status(tid, raw);
                    handled += 1;
                } else if r < 0 && Errno::last() == Errno::EINTR {
                    self.settling.push(tid);
                }
                continue;
            }
            let mut raw = 0;
            let r = unsafe {
                libc::waitpid(
                    -1,
                    &mut raw,
                    libc::__WALL | libc::__WNOTHREAD | libc::WNOHANG,
                )
            };
            if r > 0 {
                self.handle_status(r, raw);
                handled += 1;
                continue;
            }
            if r < 0 && Errno::last() == Errno::EINTR {
                continue;
            }
            break;
        }
        handled
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
            if self.reap() > 0 {
                self.progress();
            }
            let waiting = self.threads.values().any(|t| {
                t.is_live() && matches!(t.state, ThreadState::Stepping | ThreadState::Stopping)
            });
            if !waiting || self.finished || Instant::now() >= deadline {
                return;
            }
            std::thread::yield_now();
        }
    }

    // ---------------------------------------------------------------- events out

    fn emit(&mut self, kind: EventKind) {
        self.seq += 1;
        let _ = self.events.send(Event {
            seq: self.seq,
            at: self.start.elapsed(),
            kind,
        });
    }

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
        let cause = self.threads.get(&tid).and_then(|t| t.cause);
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
                let _ = tx.send(result);
            }
            ReplyTo::Event(id) => self.emit(EventKind::Reply { id, result }),
        }
    }

    // ---------------------------------------------------------------- wait statuses

    fn handle_status(&mut self, tid: Tid, raw: i32) {
        let status = RawStatus::new(raw);
        if self.killing.is_some() {
            return self.handle_while_killing(tid, status);
        }
        let Some(thread) = self.threads.get(&tid) else {
            return self.handle_unknown(tid, status);
        };
        let prev = thread.state;
        let mut facts = StopFacts {
            stop_on_thread_events: self.stop_on_thread_events,
            listening: thread.listening,
            stepping: thread.stepping,
            ..Default::default()
        };
        match status.decoded {
            WaitStatus::SignalDeliveryStop { sig } => {
                facts.policy = Some(self.policy.get(sig));
                if sig == libc::SIGTRAP {
                    self.trap_facts(tid, &mut facts);
                }
            }
            WaitStatus::EventStop { event } if event != PtraceEvent::Exec => {
                facts.event_msg = pt::event_msg(tid).unwrap_or(0);
            }
            _ => {}
        }
        let d = decide(prev, status.decoded, &facts);
        let forked_child = match status.decoded {
            WaitStatus::EventStop {
                event: PtraceEvent::Fork | PtraceEvent::Vfork,
            } => Some(facts.event_msg as Tid),
            _ => None,
        };

        let t = self.threads.get_mut(&tid).expect("looked up above");
        t.state = d.state;
        if d.cause.is_some() {
            t.cause = d.cause;
        }
        if d.state == ThreadState::Stopped && t.cause.is_none() {
            t.cause = Some(StopCause::Stopped);
        }
        if let Some(sig) = d.holds_signal {
            t.held_signal = Some(sig);
        }
        // Any signal report is the one that could have been our step trap: after it, none is
        // queued any more. Other reports leave a pending step trap where it is.
        if matches!(status.decoded, WaitStatus::SignalDeliveryStop { .. }) {
            t.stepping = matches!(d.action, Action::StepAgain { .. });
        }
        if !matches!(d.action, Action::Listen | Action::Rest) {
            t.listening = false;
        }
        let note = self.carry_out(tid, prev, d.action, &status);
        self.transition(tid, prev, d.state, Some(status), note);

        if let WaitStatus::EventStop { event } = status.decoded {
            self.after_event(tid, event, facts.event_msg);
        }
        if let Some(child) = forked_child {
            self.note(
                Some(tid),
                format!("fork/vfork: child {child} (released once it reports)"),
            );
        }
        if d.stops_world && !self.continuing {
            self.begin_all_stop(Some(tid));
        }
        self.resume_newborn(tid);
    }

    /// For a SIGTRAP: was it one of our int3 bytes?
    fn trap_facts(&mut self, tid: Tid, facts: &mut StopFacts) {
        facts.si_code = pt::si_code(tid).ok();
        if facts.si_code != Some(SI_KERNEL) {
            return;
        }
        let Ok(regs) = pt::getregs(tid) else { return };
        // Kept: valid for this stop, and a rewind needs them next.
        if let Some(t) = self.threads.get_mut(&tid) {
            t.regs = Some(regs);
        }
        let at = regs.rip().wrapping_sub(1);
        let byte = self.mem.read(at, 1).first().copied();
        if byte == Some(super::breakpoints::INT3) {
            if self.bps.contains(at) && self.bps.inserted() {
                facts.our_breakpoint = Some(at);
            }
        } else {
            // The kernel says an int3 ran at `at`, but none is there now: it was ours and was
            // taken out since (all-stop or a removed breakpoint). The program's own int3
            // instructions never leave memory.
            facts.stale_breakpoint = Some(at);
        }
    }

    /// Performs the action and says in a few words why, for the event log.
    fn carry_out(
        &mut self,
        tid: Tid,
        prev: ThreadState,
        action: Action,
        status: &RawStatus,
    ) -> &'static str {
        // Registers read at this stop stay good only while the thread runs no user code: a
        // rewind-and-settle keeps them (the rewind just wrote them), everything else that
        // resumes the thread makes them stale.
        if !matches!(
            action,
            Action::Rest | Action::RewindAndSettle { .. } | Action::Listen
        ) {
            self.ran(tid);
        }
        let result = match action {
            Action::Rest => return rest_note(status),
            Action::RewindAndSettle { addr } => {
                let hit = matches!(
                    self.threads.get(&tid).and_then(|t| t.cause),
                    Some(StopCause::Breakpoint { .. })
                );
                if hit {
                    self.bps.hit(addr);
                }
                let r = self.rewind(tid, addr).and_then(|_| self.settle(tid));
                if r.is_ok() {
                    return if hit {
                        "our int3: rip moved back onto the breakpoint; settling into an event-stop"
                    } else {
                        "trap of an int3 of ours already removed: rip moved back"
                    };
                }
                r
            }
            Action::Settle => {
                let r = self.settle(tid);
                if r.is_ok() {
                    return "step done; our SIGTRAP dropped, settling into an event-stop";
                }
                r
            }
            Action::RewindAndResume { addr } => {
                let r = self.rewind(tid, addr).and_then(|_| pt::cont(tid, 0));
                if r.is_ok() {
                    return "trap of a removed int3 of ours: rip moved back, resumed";
                }
                r
            }
            Action::Resume { sig } => {
                // A thread we are stopping must still stop: re-arm the interrupt in case the
                // report we just got consumed it.
                let r = if prev == ThreadState::Stopping {
                    pt::interrupt(tid).and_then(|_| pt::cont(tid, sig))
                } else {
                    pt::cont(tid, sig)
                };
                if r.is_ok() {
                    return match status.decoded {
                        WaitStatus::SignalDeliveryStop { .. } => "signal passed on (policy: pass)",
                        WaitStatus::InterruptStop if prev == ThreadState::Stopped => {
                            "job-control stop ended (SIGCONT): resumed"
                        }
                        WaitStatus::InterruptStop => "leftover interrupt absorbed: resumed",
                        WaitStatus::EventStop { .. } => "event logged: resumed",
                        _ => "resumed",
                    };
                }
                r
            }
            Action::StepAgain { sig } => {
                let r = pt::step(tid, sig);
                if r.is_ok() {
                    return "step interrupted by an event: stepping on";
                }
                r
            }
            Action::Listen => {
                let r = pt::listen(tid);
                if r.is_ok() {
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.listening = true;
                    }
                    return "job-control stop honoured with PTRACE_LISTEN";
                }
                r
            }
            Action::Forget => {
                self.forget(tid, status);
                return "thread gone";
            }
        };
        match result {
            Ok(()) => "",
            Err(TraceError::ThreadExited(_)) => {
                // It died under us (SIGKILL from outside): its exit status will follow.
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.state = ThreadState::Exiting;
                }
                "thread vanished while being handled"
            }
            Err(e) => {
                let text = format!("thread {tid}: {e}");
                self.note(Some(tid), text);
                "error while handling the stop"
            }
        }
    }

    /// int3 bytes go in only through here: the sequence turns odd first, so a direct reader
    /// (`TracerHandle::read_memory`) never trusts a read that may hold one of them.
    fn insert_breakpoints(&mut self) -> Result<()> {
        if self
            .shared
            .text_seq
            .load(Ordering::Acquire)
            .is_multiple_of(2)
        {
            self.shared.text_seq.fetch_add(1, Ordering::AcqRel);
        }
        self.bps.insert_all(&self.mem)
    }

    /// After the bytes were taken out (or the image they were in is gone): even again.
    fn text_restored(&mut self) {
        if !self.bps.inserted()
            && !self
                .shared
                .text_seq
                .load(Ordering::Acquire)
                .is_multiple_of(2)
        {
            self.shared.text_seq.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn remove_breakpoints(&mut self) -> Result<()> {
        let r = self.bps.remove_all(&self.mem);
        self.text_restored();
        r
    }

    fn ran(&mut self, tid: Tid) {
        if let Some(t) = self.threads.get_mut(&tid) {
            t.regs = None;
        }
    }

    fn rewind(&mut self, tid: Tid, addr: u64) -> Result<()> {
        // Registers cached for the current stop (every resume clears the cache) save a GETREGS.
        let cached = self.threads.get(&tid).and_then(|t| t.regs);
        let mut regs = match cached {
            Some(r) => r,
            None => pt::getregs(tid)?,
        };
        regs.set_rip(addr);
        pt::setregs(tid, &regs)?;
        if let Some(t) = self.threads.get_mut(&tid) {
            t.regs = Some(regs);
        }
        Ok(())
    }

    /// Turns a signal-delivery-stop that holds our SIGTRAP into an event-stop: the interrupt is
    /// queued first, so the thread re-stops before running any user instruction, and the SIGTRAP
    /// is dropped by resuming with signal 0. A thread left in a signal-delivery-stop would get
    /// that SIGTRAP (and die of it) if ptscope were killed.
    fn settle(&mut self, tid: Tid) -> Result<()> {
        pt::interrupt(tid)?;
        pt::cont(tid, 0)?;
        self.settling.push(tid);
        Ok(())
    }

    fn forget(&mut self, tid: Tid, status: &RawStatus) {
        if tid == self.pid {
            let kind = match status.decoded {
                WaitStatus::Killed { sig, .. } => ExitKind::Signal { sig },
                WaitStatus::Exited { code } => ExitKind::Code { code },
                _ => ExitKind::Code { code: 0 },
            };
            self.process_exited(kind);
        } else if let Some(t) = self.threads.get_mut(&tid) {
            t.state = ThreadState::Exited;
        }
    }

    fn process_exited(&mut self, kind: ExitKind) {
        self.exit = Some(kind);
        for t in self.threads.values_mut() {
            t.state = ThreadState::Exited;
        }
        self.finished = true;
    }

    /// Follow-up of ptrace events once the reporting thread has been handled.
    fn after_event(&mut self, tid: Tid, event: PtraceEvent, msg: u64) {
        match event {
            PtraceEvent::Clone => {
                let new_tid = msg as Tid;
                if !self.threads.contains_key(&new_tid) && new_tid > 0 {
                    // Its own first stop (PTRACE_EVENT_STOP) is still to come.
                    let mut t =
                        Thread::new(tasks::thread_name(self.pid, new_tid), ThreadState::Stopping);
                    t.resume_after_first_stop = self.want_running;
                    self.threads.insert(new_tid, t);
                    self.transition(
                        new_tid,
                        ThreadState::Running,
                        ThreadState::Stopping,
                        None,
                        "born traced (PTRACE_O_TRACECLONE)",
                    );
                }
            }
            PtraceEvent::Exec => {
                // The exec'ing thread took over the leader's id; every other thread is gone,
                // and so is the old image with our breakpoints in it.
                let former = pt::event_msg(tid).unwrap_or(0) as Tid;
                let others: Vec<Tid> = self.threads.keys().copied().filter(|t| *t != tid).collect();
                for other in others {
                    self.threads.remove(&other);
                }
                if former != tid && former > 0 {
                    self.note(
                        Some(tid),
                        format!("thread {former} exec'd and became {tid}"),
                    );
                }
                if !self.bps.is_empty() {
                    self.note(
                        Some(tid),
                        "exec: breakpoints dropped with the old image".into(),
                    );
                }
                self.bps.clear();
                self.text_restored();
                self.shared.mm_generation.fetch_add(1, Ordering::AcqRel);
                match Memory::open(self.pid) {
                    Ok(m) => self.mem = m,
                    Err(e) => self.note(Some(tid), format!("exec: {e}")),
                }
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.name = tasks::thread_name(self.pid, tid);
                }
            }
            PtraceEvent::VforkDone
                if self.want_running && !self.bps.is_empty() && !self.bps.inserted() =>
            {
                if let Err(e) = self.insert_breakpoints() {
                    self.note(
                        Some(tid),
                        format!("vfork done: cannot re-insert breakpoints: {e}"),
                    );
                }
            }
            _ => {}
        }
    }

    /// A new thread whose first stop came in while the process runs joins the running.
    fn resume_newborn(&mut self, tid: Tid) {
        let Some(t) = self.threads.get_mut(&tid) else {
            return;
        };
        if !t.resume_after_first_stop || t.state != ThreadState::Stopped {
            return;
        }
        t.resume_after_first_stop = false;
        if !self.want_running {
            return;
        }
        if pt::cont(tid, 0).is_ok() {
            t.state = ThreadState::Running;
            t.cause = None;
            t.regs = None;
            self.transition(
                tid,
                ThreadState::Stopped,
                ThreadState::Running,
                None,
                "new thread joins the running process",
            );
        }
    }

    fn handle_unknown(&mut self, tid: Tid, status: RawStatus) {
        if matches!(
            status.decoded,
            WaitStatus::Exited { .. } | WaitStatus::Killed { .. }
        ) {
            return;
        }
        // One stat(2) tells a thread of ours from a forked child: only our threads are listed
        // under our /proc/PID/task (cheaper than parsing /proc/TID/status at every birth).
        if tasks::is_thread_of(self.pid, tid) {
            // A thread whose first stop beat its parent's PTRACE_EVENT_CLONE.
            let mut t = Thread::new(tasks::thread_name(self.pid, tid), ThreadState::Stopping);
            t.resume_after_first_stop = self.want_running;
            self.threads.insert(tid, t);
            self.handle_status(tid, status.raw);
        } else {
            self.release_child(tid);
        }
    }

    /// A child the target forked while our int3 bytes were in its memory: without them put back
    /// it would die of SIGTRAP at the first breakpoint it runs into, far from any tracer.
    fn release_child(&mut self, child: Tid) {
        let mut text = format!("forked child {child}");
        if self.bps.inserted() {
            match Memory::open(child) {
                Ok(cm) => match self.bps.restore_into(&cm) {
                    Ok(()) => {
                        text.push_str(": original bytes restored");
                        // A vfork child shares our memory: restoring its copy restored ours.
                        let probe = self.bps.addresses().next();
                        if let Some(addr) = probe {
                            if self.mem.read(addr, 1).first() != Some(&super::breakpoints::INT3) {
                                self.bps.mark_removed();
                                self.text_restored();
                                text.push_str(
                                    " (shared memory: breakpoints lifted until vfork ends)",
                                );
                            }
                        }
                    }
                    Err(e) => text.push_str(&format!(": cannot restore bytes: {e}")),
                },
                Err(e) => text.push_str(&format!(": cannot open its memory: {e}")),
            }
        }
        match pt::detach(child, 0) {
            Ok(()) => text.push_str(", detached"),
            Err(e) => text.push_str(&format!(", detach failed: {e}")),
        }
        self.note(None, text);
    }

    fn handle_while_killing(&mut self, tid: Tid, status: RawStatus) {
        match status.decoded {
            WaitStatus::Exited { .. } | WaitStatus::Killed { .. } => {
                if tid == self.pid {
                    self.forget(tid, &status);
                }
            }
            _ => {
                let _ = pt::cont(tid, 0);
            }
        }
    }

    // ---------------------------------------------------------------- all-stop

    fn all_settled(&self) -> bool {
        self.threads
            .values()
            .filter(|t| t.is_live())
            .all(|t| t.state.is_settled())
    }

    /// Interrupts every running thread. `by` is the thread whose own stop started it.
    fn begin_all_stop(&mut self, by: Option<Tid>) {
        self.want_running = false;
        self.expect_reports = true;
        if self.stopped_by.is_none() {
            self.stopped_by = by;
        }
        let to_stop: Vec<Tid> = self
            .threads
            .iter()
            // A stepping thread too: a step into a blocking system call may not end for hours.
            .filter(|(_, t)| {
                t.is_live()
                    && (matches!(t.state, ThreadState::Running | ThreadState::Stepping)
                        || t.listening)
            })
            .map(|(tid, _)| *tid)
            .collect();
        for tid in to_stop {
            let old = self.threads[&tid].state;
            match pt::interrupt(tid) {
                Ok(()) => {
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.state = ThreadState::Stopping;
                        t.cause = None;
                        t.listening = false;
                    }
                    self.transition(
                        tid,
                        old,
                        ThreadState::Stopping,
                        None,
                        "PTRACE_INTERRUPT sent (all-stop)",
                    );
                }
                Err(_) => {
                    // Dying: its exit status is on the way and it will not stop.
                    if let Some(t) = self.threads.get_mut(&tid) {
                        t.state = ThreadState::Exiting;
                    }
                }
            }
        }
    }

    /// Every thread has reported: take our bytes out and publish the picture.
    fn complete_all_stop(&mut self) {
        if let Err(e) = self.remove_breakpoints() {
            self.note(
                None,
                format!("could not restore every breakpoint byte: {e}"),
            );
        }
        let tids: Vec<Tid> = self
            .threads
            .iter()
            .filter(|(_, t)| t.is_live())
            .map(|(t, _)| *t)
            .collect();
        // Only threads that ran since their registers were read need a GETREGS: after a
        // single step that is one thread, not all of them.
        for tid in &tids {
            if self.threads.get(tid).is_some_and(|t| t.regs.is_none()) {
                let regs = pt::getregs(*tid).ok();
                if let Some(t) = self.threads.get_mut(tid) {
                    t.regs = regs;
                }
            }
        }
        if self.kick_pending_traps(&tids) {
            return;
        }
        self.refresh_names(false);
        self.world_stopped = true;
        let snap = self.snapshot();
        self.emit(EventKind::AllStopped(Box::new(snap)));
    }

    /// A thread interrupted right after it ran one of our int3 bytes may have its SIGTRAP still
    /// queued (the kernel checks for our interrupt before it dequeues signals). Left so, it
    /// would die of that SIGTRAP if ptscope were killed. Such a thread sits just past a
    /// breakpoint with SIGTRAP pending: let it take the signal now, which the stale-trap rule
    /// turns into a rewind and a settle.
    fn kick_pending_traps(&mut self, tids: &[Tid]) -> bool {
        let mut kicked = false;
        for tid in tids {
            let Some(t) = self.threads.get(tid) else {
                continue;
            };
            if t.cause != Some(StopCause::Stopped) || t.state != ThreadState::Stopped {
                continue;
            }
            let Some(rip) = t.regs.map(|r| r.rip()) else {
                continue;
            };
            if !self.bps.contains(rip.wrapping_sub(1)) || !sigtrap_pending(self.pid, *tid) {
                continue;
            }
            if pt::cont(*tid, 0).is_ok() {
                if let Some(t) = self.threads.get_mut(tid) {
                    t.state = ThreadState::Stopping;
                    t.regs = None;
                }
                self.transition(
                    *tid,
                    ThreadState::Stopped,
                    ThreadState::Stopping,
                    None,
                    "queued SIGTRAP of our int3: letting it be reported",
                );
                kicked = true;
            }
        }
        kicked
    }

    /// Threads usually name themselves just after they are born (pthread_setname_np), so the
    /// name read at birth is often the parent's. A young thread's name is read again at each
    /// all-stop until it has been read once at an age where renaming is over; `all` (an
    /// explicit snapshot) reads every name.
    fn refresh_names(&mut self, all: bool) {
        const SETTLED_AGE: Duration = Duration::from_secs(2);
        let pid = self.pid;
        for (tid, t) in self.threads.iter_mut() {
            if !t.is_live() || (!all && t.name_final) {
                continue;
            }
            let age = t.seen_at.elapsed();
            let name = tasks::thread_name(pid, *tid);
            if !name.is_empty() {
                t.name = name;
            }
            t.name_final = age >= SETTLED_AGE;
        }
    }

    fn process_state(&self) -> ProcessState {
        if let Some(status) = self.exit {
            return ProcessState::Exited { status };
        }
        let live: Vec<&Thread> = self.threads.values().filter(|t| t.is_live()).collect();
        if live.iter().any(|t| t.state == ThreadState::Detached) {
            return ProcessState::Detached;
        }
        if live.iter().any(|t| t.state == ThreadState::Stopping) {
            return ProcessState::Stopping;
        }
        if live
            .iter()
            .any(|t| matches!(t.state, ThreadState::Running | ThreadState::Stepping))
        {
            return ProcessState::Running;
        }
        let group = live
            .iter()
            .map(|t| t.cause)
            .try_fold(None, |acc, c| match (acc, c) {
                (None, Some(StopCause::GroupStop { sig })) => Some(Some(sig)),
                (Some(s), Some(StopCause::GroupStop { .. })) => Some(Some(s)),
                _ => None,
            });
        match group {
            Some(Some(sig)) => ProcessState::GroupStopped { sig },
            _ => ProcessState::Stopped,
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            pid: self.pid,
            state: self.process_state(),
            threads: self
                .threads
                .iter()
                .map(|(tid, t)| ThreadInfo {
                    tid: *tid,
                    name: t.name.clone(),
                    state: t.state,
                    cause: t.cause,
                    regs: if t.state.is_settled() && t.is_live() {
                        t.regs
                    } else {
                        None
                    },
                    pending_signal: t.held_signal,
                    zombie: t.zombie,
                })
                .collect(),
            breakpoints: self.bps.info(),
            stopped_by: self.stopped_by,
        }
    }

    /// Moves things on after any status or command: finishes continues, completes all-stops,
    /// answers whoever waits, and detaches once everything is still.
    fn progress(&mut self) {
        if self.finished {
            self.finish_waiters();
            return;
        }
        if self.continuing {
            let in_flight = self.threads.values().any(|t| {
                t.step_over && matches!(t.state, ThreadState::Stepping | ThreadState::Stopping)
            });
            if !in_flight {
                let interrupted = self
                    .threads
                    .iter()
                    .find(|(_, t)| t.step_over && t.cause != Some(StopCause::Stepped))
                    .map(|(tid, _)| *tid);
                for t in self.threads.values_mut() {
                    t.step_over = false;
                }
                self.continuing = false;
                match interrupted {
                    // Stopped for a reason of its own while stepping over: the continue ends
                    // here and that stop is reported like any other.
                    Some(tid) => self.stopped_by = Some(tid),
                    None => self.finish_continue(),
                }
            }
        }
        if !self.want_running && !self.continuing && !self.world_stopped && self.all_settled() {
            self.complete_all_stop();
        }
        self.answer_waiters();
        if self.world_stopped && self.detach_reply.is_some() {
            self.detach_all();
        }
    }

    fn answer_waiters(&mut self) {
        let waiters = std::mem::take(&mut self.waiters);
        for w in waiters {
            match w {
                Waiter::AllStopped(to) if self.world_stopped => self.reply(to, Ok(Reply::Done)),
                Waiter::StepDone(tid, to)
                    if self.threads.get(&tid).is_none_or(|t| {
                        !matches!(t.state, ThreadState::Stepping | ThreadState::Stopping)
                    }) =>
                {
                    self.reply(to, Ok(Reply::Done))
                }
                Waiter::Resumed(to) if !self.continuing => self.reply(to, Ok(Reply::Done)),
                other => self.waiters.push(other),
            }
        }
    }

    /// The process is gone or detached: tell every waiter and the event stream.
    fn finish_waiters(&mut self) {
        let err = if self.exit.is_some() {
            TraceError::ProcessExited
        } else {
            TraceError::Detached
        };
        let waiters = std::mem::take(&mut self.waiters);
        for w in waiters {
            let to = match w {
                Waiter::AllStopped(to) | Waiter::StepDone(_, to) | Waiter::Resumed(to) => to,
            };
            self.reply(to, Err(err.clone()));
        }
        if let Some(to) = self.killing.take() {
            self.reply(to, Ok(Reply::Done));
        }
        if let Some(to) = self.detach_reply.take() {
            self.reply(to, Err(err));
        }
        if let Some(kind) = self.exit.take() {
            // Keep `exit` for process_state: put it back after the event.
            self.emit(EventKind::ProcessExited(kind));
            self.exit = Some(kind);
        }
    }

    // ---------------------------------------------------------------- commands

    fn handle_request(&mut self, req: Request) {
        if self.finished {
            let err = if self.exit.is_some() {
                TraceError::ProcessExited
            } else {
                TraceError::Detached
            };
            return self.reply(req.reply, Err(err));
        }
        let to = req.reply;
        let result = match req.cmd {
            Command::Stop => {
                if self.world_stopped {
                    Ok(Reply::Done)
                } else {
                    self.begin_all_stop(None);
                    self.waiters.push(Waiter::AllStopped(to));
                    return;
                }
            }
            Command::Continue => match self.start_continue() {
                Ok(()) => {
                    self.waiters.push(Waiter::Resumed(to));
                    return;
                }
                Err(e) => Err(e),
            },
            Command::Step { tid } => match self.start_step(tid) {
                Ok(()) => {
                    self.waiters.push(Waiter::StepDone(tid, to));
                    return;
                }
                Err(e) => Err(e),
            },
            Command::AddBreakpoint { addr } => self.add_breakpoint(addr).map(|_| Reply::Done),
            Command::RemoveBreakpoint { addr } => {
                self.bps.remove(&self.mem, addr).map(|_| Reply::Done)
            }
            Command::GetRegisters { tid } => self.stopped_thread(tid).and_then(|_| {
                let regs = pt::getregs(tid)?;
                Ok(Reply::Registers(Box::new(regs)))
            }),
            Command::SetRegister { tid, name, value } => self.set_register(tid, &name, value),
            Command::ReadMemory { addr, len } => self.read_memory(addr, len),
            Command::WriteMemory { addr, bytes } => {
                let mut bytes = bytes;
                self.bps.overlay_write(addr, &mut bytes);
                self.mem.write(addr, &bytes).map(|_| Reply::Done)
            }
            Command::Snapshot => {
                self.refresh_names(true);
                Ok(Reply::Snapshot(Box::new(self.snapshot())))
            }
            Command::SetSignalPolicy { sig, policy } => {
                self.policy.set(sig, policy);
                Ok(Reply::Done)
            }
            Command::SetStopOnThreadEvents(on) => {
                self.stop_on_thread_events = on;
                Ok(Reply::Done)
            }
            Command::Detach => {
                self.detach_reply = Some(to);
                if !self.world_stopped {
                    self.begin_all_stop(None);
                }
                return;
            }
            Command::Kill => {
                if !self.launched {
                    Err(TraceError::WrongState(
                        "ptscope only kills programs it launched; use detach".into(),
                    ))
                } else {
                    self.killing = Some(to);
                    let _ = self.remove_breakpoints();
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(self.pid),
                        nix::sys::signal::SIGKILL,
                    );
                    // Threads resting in ptrace-stops die at once; nothing else is needed.
                    return;
                }
            }
        };
        self.reply(to, result);
    }

    fn stopped_thread(&self, tid: Tid) -> Result<&Thread> {
        let t = self
            .threads
            .get(&tid)
            .ok_or(TraceError::NoSuchThread(tid))?;
        if t.state == ThreadState::Exited || t.zombie || t.released {
            return Err(TraceError::ThreadExited(tid));
        }
        if !matches!(t.state, ThreadState::Stopped | ThreadState::Exiting) {
            return Err(TraceError::WrongState(format!(
                "thread {tid} is {}: stop it first",
                t.state
            )));
        }
        Ok(t)
    }

    fn require_world_stopped(&self, what: &str) -> Result<()> {
        if self.world_stopped {
            return Ok(());
        }
        let pending = self
            .threads
            .values()
            .filter(|t| t.is_live() && !t.state.is_settled())
            .count();
        Err(TraceError::WrongState(
            if self.want_running || self.continuing {
                format!("cannot {what}: the process is running (stop it first)")
            } else {
                format!("cannot {what}: {pending} thread(s) have not stopped yet")
            },
        ))
    }

    fn start_continue(&mut self) -> Result<()> {
        self.require_world_stopped("continue")?;
        self.expect_reports = true;
        self.world_stopped = false;
        self.continuing = true;
        let at_breakpoint: Vec<Tid> = self
            .threads
            .iter()
            .filter(|(_, t)| {
                t.is_live()
                    && t.state == ThreadState::Stopped
                    && !t.listening
                    && t.regs.is_some_and(|r| self.bps.contains(r.rip()))
            })
            .map(|(tid, _)| *tid)
            .collect();
        // No int3 is in memory while stopped, so stepping these runs the original instruction.
        for tid in at_breakpoint {
            let sig = self
                .threads
                .get_mut(&tid)
                .and_then(|t| t.held_signal.take())
                .unwrap_or(0);
            if pt::step(tid, sig).is_ok() {
                if let Some(t) = self.threads.get_mut(&tid) {
                    t.state = ThreadState::Stepping;
                    t.step_over = true;
                    t.stepping = true;
                    t.cause = None;
                    t.regs = None;
                }
                self.transition(
                    tid,
                    ThreadState::Stopped,
                    ThreadState::Stepping,
                    None,
                    "stepping over the breakpoint before continuing",
                );
            }
        }
        Ok(())
    }

    /// Second half of a continue: breakpoints in, every thread resumed with what it holds.
    fn finish_continue(&mut self) {
        if let Err(e) = self.insert_breakpoints() {
            self.note(None, format!("could not insert every breakpoint: {e}"));
        }
        self.stopped_by = None;
        self.want_running = true;
        let tids: Vec<Tid> = self.threads.keys().copied().collect();
        for tid in tids {
            let Some(t) = self.threads.get_mut(&tid) else {
                continue;
            };
            if !t.is_live() || !matches!(t.state, ThreadState::Stopped | ThreadState::Exiting) {
                continue;
            }
            let old = t.state;
            // A job-control stop from outside stays in force until its SIGCONT.
            if matches!(t.cause, Some(StopCause::GroupStop { .. })) && t.held_signal.is_none() {
                if pt::listen(tid).is_ok() {
                    t.listening = true;
                }
                continue;
            }
            let sig = t.held_signal.take().unwrap_or(0);
            let exiting = t.state == ThreadState::Exiting;
            match pt::cont(tid, sig) {
                Ok(()) => {
                    if exiting {
                        t.released = true;
                        t.zombie = tid == self.pid;
                    } else {
                        t.state = ThreadState::Running;
                        t.cause = None;
                    }
                    t.regs = None;
                    let note = match (exiting, sig) {
                        (true, _) => "released to finish exiting",
                        (false, 0) => "PTRACE_CONT",
                        (false, _) => "PTRACE_CONT delivering the held signal",
                    };
                    let new = if exiting {
                        ThreadState::Exiting
                    } else {
                        ThreadState::Running
                    };
                    self.transition(tid, old, new, None, note);
                    if sig != 0 {
                        self.note(Some(tid), format!("delivered {}", signal_name(sig)));
                    }
                }
                Err(_) => {
                    t.state = ThreadState::Exiting;
                    t.released = true;
                }
            }
        }
        self.emit(EventKind::Resumed);
    }

    fn start_step(&mut self, tid: Tid) -> Result<()> {
        self.require_world_stopped("step")?;
        let t = self.stopped_thread(tid)?;
        if t.state == ThreadState::Exiting {
            return Err(TraceError::WrongState(format!("thread {tid} is exiting")));
        }
        if t.listening || matches!(t.cause, Some(StopCause::GroupStop { .. })) {
            return Err(TraceError::WrongState(format!(
                "thread {tid} is in a job-control stop: it runs again on SIGCONT"
            )));
        }
        let sig = self
            .threads
            .get(&tid)
            .and_then(|t| t.held_signal)
            .unwrap_or(0);
        pt::step(tid, sig)?;
        self.expect_reports = true;
        self.world_stopped = false;
        self.stopped_by = Some(tid);
        if let Some(t) = self.threads.get_mut(&tid) {
            t.held_signal = None;
            t.state = ThreadState::Stepping;
            t.stepping = true;
            t.cause = None;
            t.regs = None;
        }
        let note = if sig != 0 {
            "PTRACE_SINGLESTEP delivering the held signal"
        } else {
            "PTRACE_SINGLESTEP"
        };
        self.transition(tid, ThreadState::Stopped, ThreadState::Stepping, None, note);
        Ok(())
    }

    fn add_breakpoint(&mut self, addr: u64) -> Result<()> {
        match maps::mapping_at(self.pid, addr) {
            None => return Err(TraceError::NotMapped(addr)),
            Some(m) if !m.executable() => return Err(TraceError::NotExecutable(addr)),
            Some(_) => {}
        }
        self.bps.add(&self.mem, addr)
    }

    fn set_register(&mut self, tid: Tid, name: &str, value: u64) -> Result<Reply> {
        self.stopped_thread(tid)?;
        let mut regs = pt::getregs(tid)?;
        if !regs.set(name, value) {
            return Err(TraceError::UnknownRegister(name.to_string()));
        }
        pt::setregs(tid, &regs)?;
        // Read back: the kernel refuses or masks some values (segment selectors, eflags bits).
        let regs = pt::getregs(tid)?;
        if let Some(t) = self.threads.get_mut(&tid) {
            t.regs = Some(regs);
        }
        Ok(Reply::Registers(Box::new(regs)))
    }

    fn read_memory(&mut self, addr: u64, len: usize) -> Result<Reply> {
        let mut bytes = self.mem.read(addr, len);
        if bytes.is_empty() && len > 0 {
            return Err(TraceError::Unreadable { addr, len, read: 0 });
        }
        self.bps.mask_read(addr, &mut bytes);
        Ok(Reply::Memory(MemoryRead {
            addr,
            bytes,
            requested: len,
        }))
    }

    // ---------------------------------------------------------------- detach

    fn detach_all(&mut self) {
        if let Err(e) = self.remove_breakpoints() {
            self.note(None, format!("detach: could not restore every byte: {e}"));
        }
        let tids: Vec<Tid> = self.threads.keys().copied().collect();
        for tid in tids {
            let Some(t) = self.threads.get(&tid) else {
                continue;
            };
            if !t.is_live() {
                continue;
            }
            let old = t.state;
            // From a signal-delivery-stop PTRACE_DETACH delivers the held signal; from an
            // event-stop the argument would be ignored, but then no signal is held.
            let sig = t.held_signal.unwrap_or(0);
            let _ = pt::detach(tid, sig);
            if let Some(t) = self.threads.get_mut(&tid) {
                t.state = ThreadState::Detached;
                t.held_signal = None;
            }
            let note = if sig != 0 {
                "PTRACE_DETACH delivering the held signal"
            } else {
                "PTRACE_DETACH"
            };
            self.transition(tid, old, ThreadState::Detached, None, note);
        }
        self.finished = true;
        if let Some(to) = self.detach_reply.take() {
            self.reply(to, Ok(Reply::Done));
        }
        let waiters = std::mem::take(&mut self.waiters);
        for w in waiters {
            let to = match w {
                Waiter::AllStopped(to) | Waiter::StepDone(_, to) | Waiter::Resumed(to) => to,
            };
            self.reply(to, Err(TraceError::Detached));
        }
        self.emit(EventKind::Detached);
    }

    /// The last resort when nobody will send a detach (handle gone, or unwinding from a panic):
    /// take our bytes out, which works on a running process, and detach what can be detached.
    /// When this thread exits, the kernel detaches the rest; a launched program is killed.
    fn release_everything(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let _ = self.remove_breakpoints();
        if self.launched {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.pid),
                nix::sys::signal::SIGKILL,
            );
            return;
        }
        for (tid, t) in &self.threads {
            if t.is_live() && t.state.is_settled() {
                let _ = pt::detach(*tid, t.held_signal.unwrap_or(0));
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.release_everything();
    }
}

fn rest_note(status: &RawStatus) -> &'static str {
    match status.decoded {
        WaitStatus::InterruptStop => "interrupt landed: thread stopped",
        WaitStatus::GroupStop { .. } => "job-control stop reported",
        WaitStatus::SignalDeliveryStop { .. } => "signal held (policy: stop)",
        WaitStatus::EventStop {
            event: PtraceEvent::Exit,
        } => "about to exit: registers still readable",
        WaitStatus::EventStop {
            event: PtraceEvent::Clone,
        } => "created a thread",
        WaitStatus::EventStop {
            event: PtraceEvent::Exec,
        } => "new program image",
        WaitStatus::EventStop { .. } => "ptrace event",
        _ => "stopped",
    }
}

fn sigtrap_pending(pid: i32, tid: Tid) -> bool {
    tasks::pending_signals(pid, tid) & (1 << (libc::SIGTRAP - 1)) != 0
}
