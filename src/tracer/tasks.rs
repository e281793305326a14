//! The few /proc facts the tracer itself needs: the thread list, names, and why an attach was
//! refused. (The richer per-thread kernel view for display lives in `procinfo`.)

use super::error::TraceError;
use super::thread::Tid;
use std::fs;

pub fn list_tids(pid: i32) -> std::io::Result<Vec<Tid>> {
    let mut tids = Vec::new();
    for entry in fs::read_dir(format!("/proc/{pid}/task"))? {
        let Ok(entry) = entry else { continue };
        if let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) {
            tids.push(tid);
        }
    }
    tids.sort_unstable();
    Ok(tids)
}

pub fn thread_name(pid: i32, tid: Tid) -> String {
    let mut buf = Vec::with_capacity(32);
    match crate::procinfo::read_small(&format!("/proc/{pid}/task/{tid}/comm"), &mut buf) {
        Ok(()) => String::from_utf8_lossy(&buf)
            .trim_end_matches('\n')
            .to_string(),
        Err(_) => String::new(),
    }
}

/// One field of /proc/.../status, e.g. "TracerPid".
fn status_field(path: &str, field: &str) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')
            .map(|v| v.trim().to_string())
    })
}

pub fn thread_is_zombie(pid: i32, tid: Tid) -> bool {
    status_field(&format!("/proc/{pid}/task/{tid}/status"), "State")
        .is_some_and(|s| s.starts_with('Z') || s.starts_with('X'))
}

/// The thread group a task id belongs to, or None when it is gone.
pub fn tgid_of(tid: Tid) -> Option<i32> {
    status_field(&format!("/proc/{tid}/status"), "Tgid")?
        .parse()
        .ok()
}

pub fn tracer_of(pid: i32, tid: Tid) -> Option<i32> {
    status_field(&format!("/proc/{pid}/task/{tid}/status"), "TracerPid")?
        .parse()
        .ok()
}

/// TracerPid names the tracing *thread*; a user wants its process.
fn already_traced(pid: i32) -> Option<TraceError> {
    let tid = tracer_of(pid, pid).filter(|t| *t != 0)?;
    let tracer = tgid_of(tid).unwrap_or(tid);
    Some(TraceError::AlreadyTraced {
        pid,
        tracer,
        tracer_name: comm_of(tracer),
    })
}

fn comm_of(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Refuses what cannot be traced before any ptrace call, with the reason a user can act on.
pub fn check_target(pid: i32) -> Result<(), TraceError> {
    if pid <= 0 {
        return Err(TraceError::NoSuchProcess(pid));
    }
    let stat = match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s,
        Err(_) => return Err(TraceError::NoSuchProcess(pid)),
    };
    if pid as u32 == std::process::id() {
        return Err(TraceError::IsSelf(pid));
    }
    // Field 9 (flags) after the parenthesised comm, which may itself hold spaces or ')'.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let flags: u64 = after
        .split_whitespace()
        .nth(6)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    const PF_KTHREAD: u64 = 0x0020_0000;
    if flags & PF_KTHREAD != 0 {
        return Err(TraceError::NotUserProcess(pid));
    }
    if let Some(tgid) = tgid_of(pid) {
        if tgid != pid {
            return Err(TraceError::PermissionDenied {
                pid,
                reason: format!("{pid} is a thread of process {tgid}; give the process id"),
            });
        }
    }
    if let Some(err) = already_traced(pid) {
        return Err(err);
    }
    Ok(())
}

/// Explains an EPERM from PTRACE_SEIZE.
pub fn explain_eperm(pid: i32) -> TraceError {
    if let Some(err) = already_traced(pid) {
        return err;
    }
    let scope = fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    let reason = match scope {
        Some(1) => "kernel.yama.ptrace_scope is 1: only a parent may trace its child \
                    (run as root, or `sysctl kernel.yama.ptrace_scope=0`)"
            .to_string(),
        Some(2) => "kernel.yama.ptrace_scope is 2: only root (CAP_SYS_PTRACE) may trace".into(),
        Some(3) => "kernel.yama.ptrace_scope is 3: ptrace attach is disabled on this system".into(),
        _ => {
            let my_uid = unsafe { libc::geteuid() };
            let owner = status_field(&format!("/proc/{pid}/status"), "Uid").and_then(|u| {
                u.split_whitespace()
                    .next()
                    .and_then(|x| x.parse::<u32>().ok())
            });
            match owner {
                Some(uid) if uid != my_uid && my_uid != 0 => {
                    format!("the process belongs to uid {uid}, you are uid {my_uid}")
                }
                _ => "the kernel refused (setuid program, no CAP_SYS_PTRACE, or a security \
                      module)"
                    .into(),
            }
        }
    };
    TraceError::PermissionDenied { pid, reason }
}
