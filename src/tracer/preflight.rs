//! Why a process cannot be traced, found before any ptrace call (or right after the kernel
//! refused one), in words a user can act on.

use super::error::TraceError;
use crate::procinfo::tasks;

/// TracerPid names the tracing *thread*; a user wants its process.
fn already_traced(pid: i32) -> Option<TraceError> {
    let tid = tasks::tracer_of(pid, pid).filter(|t| *t != 0)?;
    let tracer = tasks::tgid_of(tid).unwrap_or(tid);
    Some(TraceError::AlreadyTraced {
        pid,
        tracer,
        tracer_name: tasks::process_name(tracer),
    })
}

/// Refuses what cannot be traced before any ptrace call, with the reason a user can act on.
pub fn check_target(pid: i32) -> Result<(), TraceError> {
    if pid <= 0 {
        return Err(TraceError::NoSuchProcess(pid));
    }
    let Some(flags) = tasks::process_flags(pid) else {
        return Err(TraceError::NoSuchProcess(pid));
    };
    if pid as u32 == std::process::id() {
        return Err(TraceError::IsSelf(pid));
    }
    const PF_KTHREAD: u64 = 0x0020_0000;
    if flags & PF_KTHREAD != 0 {
        return Err(TraceError::NotUserProcess(pid));
    }
    if let Some(tgid) = tasks::tgid_of(pid) {
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
    let reason = match tasks::ptrace_scope() {
        Some(1) => "kernel.yama.ptrace_scope is 1: only a parent may trace its child \
                    (run as root, or `sysctl kernel.yama.ptrace_scope=0`)"
            .to_string(),
        Some(2) => "kernel.yama.ptrace_scope is 2: only root (CAP_SYS_PTRACE) may trace".into(),
        Some(3) => "kernel.yama.ptrace_scope is 3: ptrace attach is disabled on this system".into(),
        _ => {
            // SAFETY: geteuid has no preconditions and cannot fail.
            let my_uid = unsafe { libc::geteuid() };
            match tasks::uid_of(pid) {
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
