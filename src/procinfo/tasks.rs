//! The facts about a process and its threads that the tracer needs: the thread list, names,
//! states, who traces them, pending signals, and what explains a refused attach.

use super::read_small;
use std::fs;
use std::io;

/// Thread ids listed under /proc/PID/task, in order.
pub fn list_tids(pid: i32) -> io::Result<Vec<i32>> {
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

/// Whether `tid` is a thread of `pid`: one stat(2), cheaper than parsing a status file (a
/// forked child is not listed under its parent's task directory).
pub fn is_thread_of(pid: i32, tid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}/task/{tid}")).exists()
}

/// The thread's comm (untrusted text); empty when it is gone.
pub fn thread_name(pid: i32, tid: i32) -> String {
    let mut buf = Vec::with_capacity(32);
    match read_small(&format!("/proc/{pid}/task/{tid}/comm"), &mut buf) {
        Ok(()) => String::from_utf8_lossy(&buf)
            .trim_end_matches('\n')
            .to_string(),
        Err(_) => String::new(),
    }
}

/// A process's comm, or "?" when it cannot be read.
pub fn process_name(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// One field of a status file, e.g. "TracerPid".
fn status_field(path: &str, field: &str) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')
            .map(|v| v.trim().to_string())
    })
}

fn thread_status(pid: i32, tid: i32, field: &str) -> Option<String> {
    status_field(&format!("/proc/{pid}/task/{tid}/status"), field)
}

/// A zombie (or dead) thread: it exited and waits for its group.
pub fn thread_is_zombie(pid: i32, tid: i32) -> bool {
    thread_status(pid, tid, "State").is_some_and(|s| s.starts_with('Z') || s.starts_with('X'))
}

/// The thread group a task id belongs to, or None when it is gone.
pub fn tgid_of(tid: i32) -> Option<i32> {
    status_field(&format!("/proc/{tid}/status"), "Tgid")?
        .parse()
        .ok()
}

/// The tracing *thread* of a thread (0 for none), as the kernel names it.
pub fn tracer_of(pid: i32, tid: i32) -> Option<i32> {
    thread_status(pid, tid, "TracerPid")?.parse().ok()
}

/// The real uid that owns a process.
pub fn uid_of(pid: i32) -> Option<u32> {
    status_field(&format!("/proc/{pid}/status"), "Uid")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Signals pending for the thread itself (SigPnd, not the shared queue), as a mask with bit
/// `sig - 1` set for each.
pub fn pending_signals(pid: i32, tid: i32) -> u64 {
    thread_status(pid, tid, "SigPnd")
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(0)
}

/// The kernel's flags word of a process (stat field 9), None when it is gone.
pub fn process_flags(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the parenthesised comm, which may itself hold spaces or ')'.
    let after = stat.rsplit_once(')').map(|(_, r)| r)?;
    after.split_whitespace().nth(6)?.parse().ok()
}

/// kernel.yama.ptrace_scope, when the Yama module is there.
pub fn ptrace_scope() -> Option<u32> {
    fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The NUL-separated command line as one line of words (untrusted text, not sanitised here);
/// empty when unreadable.
pub fn cmdline(pid: i32) -> Vec<String> {
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(b) => b
            .split(|c| *c == 0)
            .filter(|w| !w.is_empty())
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The executable a process runs (`self` for ptscope itself).
pub fn exe_of(pid: &str) -> io::Result<std::path::PathBuf> {
    fs::read_link(format!("/proc/{pid}/exe"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_reads_back() {
        let me = std::process::id() as i32;
        let tids = list_tids(me).unwrap();
        assert!(tids.contains(&me));
        assert!(is_thread_of(me, me));
        assert!(!is_thread_of(me, 1));
        assert_eq!(tgid_of(me), Some(me));
        assert_eq!(tracer_of(me, me), Some(0));
        assert!(!thread_is_zombie(me, me));
        assert!(!cmdline(me).is_empty());
        assert_eq!(process_flags(me).map(|f| f & 0x0020_0000), Some(0));
        assert!(!thread_name(me, me).is_empty());
    }
}
