//! A live session: a tracer on a real process, the real terminal, and every way out restoring
//! both. Quitting (q, Ctrl-C, SIGINT/SIGTERM/SIGHUP, an error, a panic) leaves the terminal as
//! it was and shuts the tracer down: an attached process is detached and runs on, a launched
//! one is killed.

use super::app::Model;
use super::hung;
use super::run::{self, Input, Tracer};
use crate::analysis::gather;
use crate::demo::{addr, service};
use crate::procinfo;
use crate::tracer::event::{Command, Event};
use crate::tracer::signals::Policy;
use crate::tracer::{LaunchStdio, Options, TraceError, TracerHandle};
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use ratatui::crossterm::event::{self as ct, Event as CtEvent};
use std::path::PathBuf;

impl Tracer for TracerHandle {
    fn send(&self, cmd: Command) -> u64 {
        TracerHandle::send(self, cmd)
    }
    fn events(&self) -> &Receiver<Event> {
        TracerHandle::events(self)
    }
}

/// What the UI is pointed at.
pub enum Target {
    Attach(i32),
    Launch { program: String, args: Vec<String> },
    Demo,
}

pub struct Settings {
    pub stop_on_thread_events: bool,
}

/// Why a session could not start or ended badly: the tracer's own typed error, or the
/// terminal and threads around it.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("{0}")]
    Setup(String),
}

fn cmdline_of(pid: i32) -> String {
    procinfo::tasks::cmdline(pid).join(" ")
}

fn demo_log_path() -> PathBuf {
    std::env::temp_dir().join(format!("ptscope-demo-{}.log", std::process::id()))
}

/// Starts the tracer and builds the first model. Demo set-up (hot function address, SIGUSR1
/// passed on, running) happens here, before the screen takes over, so errors print plainly.
pub fn start(target: Target, settings: &Settings) -> Result<(TracerHandle, Model), SessionError> {
    let mut opts = Options {
        stop_on_thread_events: settings.stop_on_thread_events,
        ..Options::default()
    };
    match target {
        Target::Attach(pid) => {
            // What each thread is doing and how long it has been off the CPU, read before
            // the attach stops them all (afterwards /proc would only show our stop): both
            // passes side by side, as `ptscope dump` does.
            let (mut before, prestop) = std::thread::scope(|s| {
                let pre = s.spawn(|| gather::before_stop(pid));
                let before = procinfo::read_threads(pid).unwrap_or_default();
                (before, pre.join().unwrap_or_default())
            });
            // A sleeper some tracer stopped before reads as restart_syscall(): the first
            // screen says what it sleeps in.
            hung::name_restarts_with(pid, &mut before);
            let h = TracerHandle::attach(pid, opts)?;
            let mut model = Model::new(h.pid(), &cmdline_of(h.pid()), false);
            model.waits.apply_kernel(&before);
            model.waits.prestop = prestop;
            model.threads.apply_kernel(before);
            Ok((h, model))
        }
        Target::Launch { program, args } => {
            // The UI owns the terminal: the program's output would scribble over it.
            let log =
                std::env::temp_dir().join(format!("ptscope-launch-{}.log", std::process::id()));
            opts.stdio = LaunchStdio::File(log.clone());
            let h = TracerHandle::launch(&program, &args, opts)?;
            let mut model = Model::new(h.pid(), &cmdline_of(h.pid()), true);
            model.status.banner = Some(format!("output: {}", log.display()));
            Ok((h, model))
        }
        Target::Demo => {
            let exe = std::env::current_exe()
                .map_err(|e| SessionError::Setup(format!("cannot find the ptscope binary: {e}")))?;
            let program = exe.to_string_lossy().into_owned();
            let log = demo_log_path();
            opts.stdio = LaunchStdio::File(log);
            let args = ["__demo".to_string(), "demo".to_string()];
            let h = TracerHandle::launch(&program, &args, opts)?;
            let mut model = Model::new(h.pid(), &cmdline_of(h.pid()), true);
            match addr::in_target(service::hot_address(), h.pid()) {
                Ok(hot) => {
                    model.process.names.insert("ptscope_demo_hot".into(), hot);
                    model.status.banner = Some(format!("try b ptscope_demo_hot ({hot:#x})"));
                }
                Err(e) => model.status.banner = Some(format!("hot function not found: {e}")),
            }
            // A handled SIGUSR1 every second would stop the demo every second: log it only.
            let pass = Command::SetSignalPolicy {
                sig: libc::SIGUSR1,
                policy: Policy::Pass,
            };
            h.call(pass)?;
            h.call(Command::Continue)?;
            Ok((h, model))
        }
    }
}

/// The key reader, started before the terminal is set up so that a failure to start it is a
/// plain error, not a line scribbled over the alternate screen. It reads once told to go (the
/// returned sender): before raw mode the terminal would hand keys over a line at a time.
/// Dropping the sender unread ends it.
fn spawn_input(tx: Sender<Input>) -> std::io::Result<Sender<()>> {
    let (go, ready) = bounded::<()>(1);
    std::thread::Builder::new()
        .name("ptscope-keys".into())
        .spawn(move || {
            if ready.recv().is_err() {
                return;
            }
            read_keys(&tx);
        })?;
    Ok(go)
}

fn read_keys(tx: &Sender<Input>) {
    loop {
        let input = match ct::read() {
            Ok(CtEvent::Key(k)) => Input::Key(k),
            Ok(CtEvent::Resize(w, h)) => Input::Resize(w, h),
            Ok(_) => continue,
            Err(e) => Input::Closed(e.to_string()),
        };
        let closed = matches!(input, Input::Closed(_));
        if tx.send(input).is_err() || closed {
            return;
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP become a message, so the loop ends and the tracer detaches
/// instead of the process dying with the target stopped and full of int3 bytes.
fn spawn_signals(tx: Sender<Input>) -> std::io::Result<signal_hook::iterator::Handle> {
    crate::quit_signals::forward(tx, Input::Signal)
}

/// Runs the UI until the user quits. The handle is shut down on every return path, and dropped
/// (which detaches or kills) if a panic unwinds through here.
pub fn run(handle: TracerHandle, mut model: Model) -> Result<(), SessionError> {
    let (tx, rx) = unbounded();
    let signals = spawn_signals(tx.clone())
        .map_err(|e| SessionError::Setup(format!("cannot watch signals: {e}")))?;
    let keys = match spawn_input(tx) {
        Ok(go) => go,
        Err(e) => {
            signals.close();
            return Err(SessionError::Setup(format!("cannot read keys: {e}")));
        }
    };
    let mut terminal = match ratatui::try_init() {
        Ok(t) => t,
        Err(e) => {
            // Raw mode may be on already if the alternate screen is what failed.
            ratatui::restore();
            signals.close();
            return Err(SessionError::Setup(format!(
                "cannot set up the terminal: {e}"
            )));
        }
    };
    // The reader is waiting on this; it cannot have gone.
    let _ = keys.send(());
    // Without these threads names, stacks and the kernel view just stay empty.
    let workers = super::workers::spawn(handle.pid()).ok();
    let result = run::run(&mut terminal, &handle, &mut model, &rx, workers.as_ref());
    ratatui::restore();
    signals.close();
    let shut = handle.shutdown();
    result.map_err(|e| SessionError::Setup(format!("terminal: {e}")))?;
    shut.map_err(SessionError::from)
}
