//! The facts about a process and its threads that a core file's notes record and only /proc
//! tells: ids and credentials, nice value, kernel flags, command line, coredump_filter, and
//! per thread the signal masks and CPU times.
//!
//! Read while the process still runs, like the kernel view: after the stop every thread would
//! read as `t` (stopped by us). None of it is on the path that keeps the process paused, so
//! the procfs crate's parsers are used as they are.

use super::read_small;
use procfs::process::Process;
use std::io;
use std::time::Duration;

/// The kernel's default /proc/PID/coredump_filter: anonymous private and shared memory, ELF
/// headers, private huge pages.
pub const DEFAULT_COREDUMP_FILTER: u32 = 0x33;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessFacts {
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    pub sid: i32,
    /// Real user and group ids.
    pub uid: u32,
    pub gid: u32,
    /// The stat state letter (R S D T t Z ...).
    pub state: char,
    pub nice: i64,
    /// The kernel's task flags word (stat field 9).
    pub flags: u64,
    /// comm as raw bytes (untrusted, not UTF-8 in general).
    pub comm: Vec<u8>,
    /// The NUL-separated arguments as raw bytes.
    pub cmdline: Vec<u8>,
    pub coredump_filter: u32,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: Duration,
    pub system: Duration,
    /// Of waited-for children, for the whole process.
    pub children_user: Duration,
    pub children_system: Duration,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadFacts {
    pub tid: i32,
    /// Signals pending for this thread alone (SigPnd), bit `sig - 1` per signal.
    pub pending: u64,
    /// Blocked signals (SigBlk).
    pub blocked: u64,
    pub times: CpuTimes,
}

fn io_error(e: procfs::ProcError) -> io::Error {
    match e {
        procfs::ProcError::NotFound(_) => io::Error::new(io::ErrorKind::NotFound, e.to_string()),
        procfs::ProcError::PermissionDenied(_) => {
            io::Error::new(io::ErrorKind::PermissionDenied, e.to_string())
        }
        other => io::Error::other(other.to_string()),
    }
}

fn ticks(n: i64) -> Duration {
    let per_sec = procfs::ticks_per_second().max(1);
    let n = n.max(0) as u64;
    Duration::from_micros(n.saturating_mul(1_000_000) / per_sec)
}

/// The process-wide facts. `view` is the process id or a live thread of it: a zombie leader
/// has no command line left to show, a live thread still does.
pub fn process_facts(pid: i32, view: i32) -> io::Result<ProcessFacts> {
    let p = Process::new(pid).map_err(io_error)?;
    let stat = p.stat().map_err(io_error)?;
    let status = p.status().map_err(io_error)?;
    let mut comm = Vec::with_capacity(16);
    read_small(&format!("/proc/{pid}/comm"), &mut comm)?;
    if comm.last() == Some(&b'\n') {
        comm.pop();
    }
    Ok(ProcessFacts {
        pid,
        ppid: stat.ppid,
        pgrp: stat.pgrp,
        sid: stat.session,
        uid: status.ruid,
        gid: status.rgid,
        state: stat.state,
        nice: stat.nice,
        flags: u64::from(stat.flags),
        comm,
        cmdline: std::fs::read(format!("/proc/{view}/cmdline"))?,
        coredump_filter: coredump_filter(pid).unwrap_or(DEFAULT_COREDUMP_FILTER),
    })
}

/// The process's coredump_filter bits (see core(5)).
pub fn coredump_filter(pid: i32) -> io::Result<u32> {
    let mut buf = Vec::with_capacity(16);
    read_small(&format!("/proc/{pid}/coredump_filter"), &mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    u32::from_str_radix(text.trim(), 16).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The facts of each thread in `tids` that still exists. The leader's CPU times are the whole
/// process's, as the kernel writes them in its own core files.
pub fn thread_facts(pid: i32, tids: &[i32]) -> io::Result<Vec<ThreadFacts>> {
    let p = Process::new(pid).map_err(io_error)?;
    let one = |tid: i32| -> Result<ThreadFacts, procfs::ProcError> {
        let task = p.task_from_tid(tid)?;
        let status = task.status()?;
        let stat = if tid == pid { p.stat()? } else { task.stat()? };
        Ok(ThreadFacts {
            tid,
            pending: status.sigpnd,
            blocked: status.sigblk,
            times: CpuTimes {
                user: ticks(stat.utime as i64),
                system: ticks(stat.stime as i64),
                children_user: ticks(stat.cutime),
                children_system: ticks(stat.cstime),
            },
        })
    };
    Ok(tids.iter().filter_map(|&t| one(t).ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_reads_back() {
        let me = std::process::id() as i32;
        let p = process_facts(me, me).unwrap();
        // SAFETY: getppid, getuid and getgid have no preconditions.
        let (ppid, uid, gid) = unsafe { (libc::getppid(), libc::getuid(), libc::getgid()) };
        assert_eq!((p.pid, p.ppid, p.uid, p.gid), (me, ppid, uid, gid));
        assert!(p.cmdline.ends_with(b"\0") && !p.comm.is_empty());
        assert!(!p.comm.contains(&b'\n'));
        assert_eq!(coredump_filter(me).unwrap(), p.coredump_filter);
        let t = thread_facts(me, &[me, i32::MAX]).unwrap();
        assert_eq!(t.len(), 1, "a thread that does not exist is left out");
        assert_eq!(t[0].tid, me);
    }

    #[test]
    fn the_leader_carries_the_whole_process_cpu_time() {
        let me = std::process::id() as i32;
        // Burn CPU on another thread until the kernel has counted a tick of it (bounded):
        // the leader's times, the whole process's, must show it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let busy = std::thread::spawn(move || {
            let mut x = 0u64;
            while std::time::Instant::now() < deadline {
                for i in 0..100_000u64 {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                }
                // SAFETY: gettid has no preconditions.
                let tid = unsafe { libc::gettid() };
                let own = thread_facts(me, &[tid]).unwrap()[0].times;
                if own.user + own.system > Duration::ZERO {
                    return true;
                }
            }
            false
        });
        assert!(busy.join().unwrap(), "no CPU time counted in 10 s");
        let leader = thread_facts(me, &[me]).unwrap()[0].times;
        assert!(leader.user + leader.system > Duration::ZERO, "{leader:?}");
    }

    #[test]
    fn a_blocked_signal_shows_in_the_thread_mask() {
        let me = std::process::id() as i32;
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let worker = std::thread::spawn(move || {
            // SAFETY: a zeroed sigset_t is a valid argument to sigemptyset, and the masks
            // point to live locals.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGWINCH);
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            }
            // SAFETY: gettid has no preconditions.
            let _ = tx.send(unsafe { libc::gettid() });
            let _ = done_rx.recv();
        });
        let tid = rx.recv().unwrap();
        let t = thread_facts(me, &[tid]).unwrap()[0];
        let _ = done_tx.send(());
        worker.join().unwrap();
        assert_ne!(t.blocked & (1 << (libc::SIGWINCH - 1)), 0, "{t:?}");
    }
}
