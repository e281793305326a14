//! `ptscope dump PID`: attach, stop every thread, print them, detach.

use crate::text::sanitize;
use crate::tracer::{
    EventKind, Options, ProcessState, Snapshot, StopCause, TraceError, TracerHandle,
};
use serde::Serialize;
use std::time::{Duration, Instant};

/// How long to wait for every thread to stop. A thread in uninterruptible sleep (D) stops only
/// when its system call returns; a dump must not hang on it, so it is shown as still stopping.
const STOP_DEADLINE: Duration = Duration::from_secs(2);

/// Attaches, waits for the all-stop (bounded), takes the snapshot and detaches.
pub fn take(pid: i32) -> Result<Snapshot, TraceError> {
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
    let snap = match snap {
        Some(s) => s,
        None => handle.snapshot()?,
    };
    handle.shutdown()?;
    Ok(snap)
}

#[derive(Serialize)]
struct JsonThread<'a> {
    tid: i32,
    name: String,
    state: &'a str,
    cause: Option<String>,
    registers: Option<&'a crate::tracer::Registers>,
}

#[derive(Serialize)]
struct JsonDump<'a> {
    pid: i32,
    threads: Vec<JsonThread<'a>>,
}

/// The stable JSON contract for scripts. Names are passed through as data (JSON escapes
/// control characters itself).
pub fn to_json(snap: &Snapshot) -> String {
    let dump = JsonDump {
        pid: snap.pid,
        threads: snap
            .threads
            .iter()
            .map(|t| JsonThread {
                tid: t.tid,
                name: t.name.clone(),
                state: if t.zombie { "zombie" } else { t.state.name() },
                cause: t.cause.map(|c| c.label()),
                registers: t.regs.as_ref(),
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

pub fn to_text(snap: &Snapshot) -> String {
    let mut out = format!(
        "process {} ({} threads, {})\n",
        snap.pid,
        snap.threads.len(),
        state_text(&snap.state)
    );
    out.push_str(&format!(
        "{:>8}  {:<16} {:<9} {:<24} {:>18} {:>18} {:>18}\n",
        "TID", "NAME", "STATE", "CAUSE", "RIP", "RSP", "RBP"
    ));
    for t in &snap.threads {
        let hex = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v:#x}"));
        let cause = match (t.zombie, t.cause) {
            (true, _) => "zombie leader".to_string(),
            (false, Some(StopCause::Stopped)) | (false, None) => {
                t.cause.map_or("-".into(), |c| c.to_string())
            }
            (false, Some(c)) => c.to_string(),
        };
        out.push_str(&format!(
            "{:>8}  {:<16} {:<9} {:<24} {:>18} {:>18} {:>18}\n",
            t.tid,
            sanitize(&t.name),
            t.state.name(),
            cause,
            hex(t.regs.map(|r| r.rip())),
            hex(t.regs.map(|r| r.rsp())),
            hex(t.regs.map(|r| r.rbp())),
        ));
    }
    out
}

/// The command: prints to stdout; the caller turns an error into one line and exit 1.
pub fn run(pid: i32, json: bool) -> Result<(), TraceError> {
    let snap = take(pid)?;
    let text = if json { to_json(&snap) } else { to_text(&snap) };
    println!("{}", text.trim_end());
    Ok(())
}
