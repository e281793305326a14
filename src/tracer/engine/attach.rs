//! Becoming the tracer: seizing every thread of a running process (and undoing a partial
//! attach), or starting a program stopped before its first instruction.

use super::phase::{AfterStop, Phase};
use super::Engine;
use crate::procinfo::tasks;
use crate::tracer::error::{Result, TraceError};
use crate::tracer::event::Event;
use crate::tracer::launch;
use crate::tracer::memory::Memory;
use crate::tracer::preflight;
use crate::tracer::ptrace as pt;
use crate::tracer::status::{PtraceEvent, WaitStatus};
use crate::tracer::thread::{StopCause, TraceeState};
use crate::tracer::tracee::Tracee;
use crate::tracer::wakeup::{ChildSignals, ChildWakeup};
use crate::tracer::{Options, Shared, WhileStopped};
use crossbeam_channel::Sender;
use nix::errno::Errno;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

impl Engine {
    /// Seizes every thread, re-listing /proc/PID/task until a whole pass finds no thread we
    /// have not seen (threads are born while we attach), then interrupts them all.
    pub(super) fn attach(
        pid: i32,
        opts: &Options,
        once: Option<WhileStopped>,
        events: Sender<Event>,
        wake: (&ChildWakeup, &ChildSignals),
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
        // Seized threads run on until the all-stop below interrupts them.
        let mut e = Engine::new(pid, false, opts, events, mem, shared, Phase::Running);
        let mut seen = std::collections::HashSet::new();
        loop {
            let tids = tasks::list_tids(pid).map_err(|_| TraceError::NoSuchProcess(pid))?;
            let mut found_new = false;
            for tid in tids {
                if !seen.insert(tid) {
                    continue;
                }
                found_new = true;
                let exit_stops = e.wants_exit_stops(tid);
                match pt::seize(tid, pt::thread_options(false, exit_stops)) {
                    Ok(()) => {
                        // It lived before we came: its name is the one it chose.
                        let name = opts
                            .known_names
                            .as_ref()
                            .and_then(|names| names.get(&tid).cloned())
                            .unwrap_or_else(|| tasks::thread_name(pid, tid));
                        let mut t = Tracee::new(name, TraceeState::Running);
                        t.name_final = true;
                        t.exit_stops = exit_stops;
                        e.tracees.insert(tid, t);
                    }
                    // Gone between the listing and the seize.
                    Err(Errno::ESRCH) => {}
                    Err(Errno::EPERM) if tasks::thread_is_zombie(pid, tid) => {
                        let name = tasks::thread_name(pid, tid);
                        e.tracees
                            .insert(tid, Tracee::new(name, TraceeState::Zombie));
                    }
                    // Auto-attached already through PTRACE_O_TRACECLONE of its parent.
                    Err(Errno::EPERM) if tasks::tracer_of(pid, tid) == Some(e.my_tid) => {
                        e.tracees.insert_new(tid, || {
                            Tracee::new(tasks::thread_name(pid, tid), TraceeState::Stopping)
                        });
                    }
                    Err(Errno::EPERM) if tid != pid && !e.tracees.is_empty() => {
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
        if e.tracees.live().next().is_none() {
            e.abandon_attach(wake);
            return Err(TraceError::NoSuchProcess(pid));
        }
        let how = e.thread_end_options();
        e.note(
            None,
            format!("seized {} threads with PTRACE_SEIZE{how}", e.tracees.len()),
        );
        // A one-shot snapshot lets go as soon as its copy is taken (`publish_stop`).
        let then = if once.is_some() {
            AfterStop::Detach
        } else {
            AfterStop::Rest
        };
        e.once = once;
        e.begin_all_stop(None, then);
        Ok(e)
    }

    /// Undoes a partial attach: the threads seized so far are running, and PTRACE_DETACH only
    /// works on a stopped tracee, so stop them first, briefly.
    fn abandon_attach(&mut self, (wake, signals): (&ChildWakeup, &ChildSignals)) {
        self.begin_all_stop(None, AfterStop::Rest);
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.tracees.all_settled() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // SIGCHLD is blocked on this thread: a report comes through the signalfd, or
            // through the handler (on another thread) writing the eventfd.
            let mut fds =
                [wake.fd().as_raw_fd(), signals.fd().as_raw_fd()].map(|fd| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                });
            // SAFETY: `fds` is a live array of two initialised pollfds, and nfds says two.
            unsafe { libc::poll(fds.as_mut_ptr(), 2, left.as_millis().max(1) as i32) };
            wake.drain();
            signals.take(wake);
            self.reap();
        }
        for (tid, t) in self.tracees.live() {
            let _ = pt::detach(tid, t.held_signal.unwrap_or(0));
        }
        self.tracees.clear();
        self.phase = Phase::Finished { exit: None };
    }

    pub(super) fn launch(
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
            // SAFETY: `raw` is a valid out-pointer for the status; waitpid writes only it.
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
        // Stopped at its exec, which stopped the world (of one thread): the first `progress`
        // publishes that stop.
        let phase = Phase::AllStopping {
            by: Some(pid),
            then: AfterStop::Rest,
        };
        let mut e = Engine::new(pid, true, opts, events, mem, shared, phase);
        let mut t = Tracee::new(tasks::thread_name(pid, pid), TraceeState::Stopped);
        t.cause = Some(StopCause::Exec);
        e.tracees.insert(pid, t);
        let how = e.thread_end_options();
        e.note(
            Some(pid),
            format!("launched {program}: stopped at PTRACE_EVENT_EXEC{how}"),
        );
        Ok(e)
    }

    /// For the attach's log line: how thread ends will be reported (`pt::thread_options`).
    fn thread_end_options(&self) -> &'static str {
        if self.stop_on_thread_events {
            "; every thread stops at PTRACE_EVENT_EXIT before it ends"
        } else {
            "; thread ends are only logged, so threads other than the leader get no \
             PTRACE_O_TRACEEXIT: one report, the exit status, per end"
        }
    }
}
