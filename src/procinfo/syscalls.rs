//! x86-64 system calls by number, with their arguments formatted the way strace would start
//! them. Numbers come from the libc crate so the table cannot drift from the ABI.

use libc::*;

/// How to show one argument.
#[derive(Clone, Copy)]
enum Arg {
    /// File descriptor or other small signed int.
    Int,
    /// Count or size.
    Uint,
    Ptr,
    Hex,
    /// Milliseconds, -1 meaning forever.
    Timeout,
    FutexOp,
    ClockId,
}
use Arg::*;

const TABLE: &[(c_long, &str, &[Arg])] = &[
    (SYS_read, "read", &[Int, Ptr, Uint]),
    (SYS_write, "write", &[Int, Ptr, Uint]),
    (SYS_pread64, "pread64", &[Int, Ptr, Uint, Int]),
    (SYS_pwrite64, "pwrite64", &[Int, Ptr, Uint, Int]),
    (SYS_readv, "readv", &[Int, Ptr, Uint]),
    (SYS_writev, "writev", &[Int, Ptr, Uint]),
    (SYS_open, "open", &[Ptr, Hex, Hex]),
    (SYS_openat, "openat", &[Int, Ptr, Hex, Hex]),
    (SYS_close, "close", &[Int]),
    (SYS_ioctl, "ioctl", &[Int, Hex, Hex]),
    (SYS_fcntl, "fcntl", &[Int, Int, Hex]),
    (SYS_flock, "flock", &[Int, Int]),
    (SYS_fsync, "fsync", &[Int]),
    (SYS_fdatasync, "fdatasync", &[Int]),
    (SYS_poll, "poll", &[Ptr, Uint, Timeout]),
    (SYS_ppoll, "ppoll", &[Ptr, Uint, Ptr, Ptr]),
    (SYS_select, "select", &[Int, Ptr, Ptr, Ptr, Ptr]),
    (SYS_pselect6, "pselect6", &[Int, Ptr, Ptr, Ptr, Ptr, Ptr]),
    (SYS_epoll_wait, "epoll_wait", &[Int, Ptr, Int, Timeout]),
    (
        SYS_epoll_pwait,
        "epoll_pwait",
        &[Int, Ptr, Int, Timeout, Ptr],
    ),
    (SYS_epoll_pwait2, "epoll_pwait2", &[Int, Ptr, Int, Ptr, Ptr]),
    (SYS_epoll_ctl, "epoll_ctl", &[Int, Int, Int, Ptr]),
    (SYS_futex, "futex", &[Ptr, FutexOp, Int, Ptr, Ptr, Hex]),
    (
        SYS_futex_waitv,
        "futex_waitv",
        &[Ptr, Uint, Hex, Ptr, ClockId],
    ),
    (SYS_nanosleep, "nanosleep", &[Ptr, Ptr]),
    (
        SYS_clock_nanosleep,
        "clock_nanosleep",
        &[ClockId, Hex, Ptr, Ptr],
    ),
    (SYS_clock_gettime, "clock_gettime", &[ClockId, Ptr]),
    (SYS_pause, "pause", &[]),
    // A sleep interrupted by a stop (a tracer's, or a signal's) goes on through this call; its
    // real arguments live in the kernel.
    (SYS_restart_syscall, "restart_syscall", &[]),
    (SYS_sched_yield, "sched_yield", &[]),
    (SYS_rt_sigsuspend, "rt_sigsuspend", &[Ptr, Uint]),
    (
        SYS_rt_sigtimedwait,
        "rt_sigtimedwait",
        &[Ptr, Ptr, Ptr, Uint],
    ),
    (SYS_rt_sigreturn, "rt_sigreturn", &[]),
    (SYS_wait4, "wait4", &[Int, Ptr, Hex, Ptr]),
    (SYS_waitid, "waitid", &[Int, Int, Ptr, Hex, Ptr]),
    (SYS_accept, "accept", &[Int, Ptr, Ptr]),
    (SYS_accept4, "accept4", &[Int, Ptr, Ptr, Hex]),
    (SYS_connect, "connect", &[Int, Ptr, Uint]),
    (SYS_recvfrom, "recvfrom", &[Int, Ptr, Uint, Hex, Ptr, Ptr]),
    (SYS_recvmsg, "recvmsg", &[Int, Ptr, Hex]),
    (SYS_recvmmsg, "recvmmsg", &[Int, Ptr, Uint, Hex, Ptr]),
    (SYS_sendto, "sendto", &[Int, Ptr, Uint, Hex, Ptr, Uint]),
    (SYS_sendmsg, "sendmsg", &[Int, Ptr, Hex]),
    (SYS_sendmmsg, "sendmmsg", &[Int, Ptr, Uint, Hex]),
    (SYS_socket, "socket", &[Int, Int, Int]),
    (SYS_bind, "bind", &[Int, Ptr, Uint]),
    (SYS_listen, "listen", &[Int, Int]),
    (SYS_shutdown, "shutdown", &[Int, Int]),
    (SYS_splice, "splice", &[Int, Ptr, Int, Ptr, Uint, Hex]),
    (SYS_sendfile, "sendfile", &[Int, Int, Ptr, Uint]),
    (SYS_msgrcv, "msgrcv", &[Int, Ptr, Uint, Int, Hex]),
    (SYS_msgsnd, "msgsnd", &[Int, Ptr, Uint, Hex]),
    (SYS_semop, "semop", &[Int, Ptr, Uint]),
    (SYS_semtimedop, "semtimedop", &[Int, Ptr, Uint, Ptr]),
    (
        SYS_io_uring_enter,
        "io_uring_enter",
        &[Int, Uint, Uint, Hex, Ptr, Uint],
    ),
    (SYS_io_getevents, "io_getevents", &[Hex, Int, Int, Ptr, Ptr]),
    (SYS_mmap, "mmap", &[Ptr, Uint, Hex, Hex, Int, Hex]),
    (SYS_munmap, "munmap", &[Ptr, Uint]),
    (SYS_mprotect, "mprotect", &[Ptr, Uint, Hex]),
    (SYS_madvise, "madvise", &[Ptr, Uint, Int]),
    (SYS_brk, "brk", &[Ptr]),
    (SYS_clone, "clone", &[Hex, Ptr, Ptr, Ptr, Hex]),
    (SYS_clone3, "clone3", &[Ptr, Uint]),
    (SYS_fork, "fork", &[]),
    (SYS_vfork, "vfork", &[]),
    (SYS_execve, "execve", &[Ptr, Ptr, Ptr]),
    (SYS_exit, "exit", &[Int]),
    (SYS_exit_group, "exit_group", &[Int]),
    (SYS_kill, "kill", &[Int, Int]),
    (SYS_tgkill, "tgkill", &[Int, Int, Int]),
    (SYS_getrandom, "getrandom", &[Ptr, Uint, Hex]),
    (SYS_pipe2, "pipe2", &[Ptr, Hex]),
    (SYS_dup, "dup", &[Int]),
    (SYS_dup2, "dup2", &[Int, Int]),
    (SYS_dup3, "dup3", &[Int, Int, Hex]),
    (SYS_eventfd2, "eventfd2", &[Uint, Hex]),
    (SYS_signalfd4, "signalfd4", &[Int, Ptr, Uint, Hex]),
    (
        SYS_timerfd_settime,
        "timerfd_settime",
        &[Int, Hex, Ptr, Ptr],
    ),
    (SYS_ptrace, "ptrace", &[Int, Int, Ptr, Ptr]),
];

pub fn name(nr: i64) -> Option<&'static str> {
    TABLE
        .iter()
        .find(|(n, _, _)| *n == nr)
        .map(|(_, name, _)| *name)
}

const FUTEX_OPS: [&str; 14] = [
    "FUTEX_WAIT",
    "FUTEX_WAKE",
    "FUTEX_FD",
    "FUTEX_REQUEUE",
    "FUTEX_CMP_REQUEUE",
    "FUTEX_WAKE_OP",
    "FUTEX_LOCK_PI",
    "FUTEX_UNLOCK_PI",
    "FUTEX_TRYLOCK_PI",
    "FUTEX_WAIT_BITSET",
    "FUTEX_WAKE_BITSET",
    "FUTEX_WAIT_REQUEUE_PI",
    "FUTEX_CMP_REQUEUE_PI",
    "FUTEX_LOCK_PI2",
];

pub fn futex_op(op: u64) -> String {
    let op = op as u32;
    let cmd = op & 0x7f;
    let mut s = match FUTEX_OPS.get(cmd as usize) {
        Some(n) => n.to_string(),
        None => format!("{cmd:#x}"),
    };
    if op & 0x80 != 0 {
        s.push_str("_PRIVATE");
    }
    if op & 0x100 != 0 {
        s.push_str("|FUTEX_CLOCK_REALTIME");
    }
    let unknown = op & !0x1ff;
    if unknown != 0 {
        s.push_str(&format!("|{unknown:#x}"));
    }
    s
}

pub fn clock_id(id: u64) -> String {
    const CLOCKS: [&str; 12] = [
        "CLOCK_REALTIME",
        "CLOCK_MONOTONIC",
        "CLOCK_PROCESS_CPUTIME_ID",
        "CLOCK_THREAD_CPUTIME_ID",
        "CLOCK_MONOTONIC_RAW",
        "CLOCK_REALTIME_COARSE",
        "CLOCK_MONOTONIC_COARSE",
        "CLOCK_BOOTTIME",
        "CLOCK_REALTIME_ALARM",
        "CLOCK_BOOTTIME_ALARM",
        "10",
        "CLOCK_TAI",
    ];
    match CLOCKS.get(id as usize) {
        Some(name) if !name.starts_with(char::is_numeric) => name.to_string(),
        _ => (id as i32).to_string(),
    }
}

fn arg(kind: Arg, v: u64) -> String {
    match kind {
        Int => (v as i32).to_string(),
        Uint => v.to_string(),
        Ptr if v == 0 => "NULL".into(),
        Ptr | Hex => format!("{v:#x}"),
        Timeout => (v as i32).to_string(),
        FutexOp => futex_op(v),
        ClockId => clock_id(v),
    }
}

/// `futex(0x7f1c2a4b3910, FUTEX_WAIT_PRIVATE, 2, NULL)`; unknown calls as `syscall_444(...)`
/// with all six raw arguments.
pub fn format(nr: i64, args: &[u64; 6]) -> String {
    let Some((_, name, kinds)) = TABLE.iter().find(|(n, _, _)| *n == nr) else {
        let raw: Vec<String> = args.iter().map(|a| format!("{a:#x}")).collect();
        return format!("syscall_{nr}({})", raw.join(", "));
    };
    // The futex call shows only what its op reads: a wait ignores uaddr2 and val3.
    let shown = if nr == SYS_futex {
        match (args[1] & 0x7f) as u32 {
            0 => 4,
            1 => 3,
            _ => kinds.len(),
        }
    } else {
        kinds.len()
    };
    let parts: Vec<String> = kinds
        .iter()
        .zip(args)
        .take(shown)
        .map(|(k, v)| arg(*k, *v))
        .collect();
    format!("{name}({})", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_abi() {
        assert_eq!(name(0), Some("read"));
        assert_eq!(name(202), Some("futex"));
        assert_eq!(name(230), Some("clock_nanosleep"));
        assert_eq!(name(232), Some("epoll_wait"));
        assert_eq!(name(7), Some("poll"));
        assert_eq!(name(43), Some("accept"));
        assert_eq!(name(45), Some("recvfrom"));
        assert_eq!(name(35), Some("nanosleep"));
        assert_eq!(name(219), Some("restart_syscall"));
        assert_eq!(name(99999), None);
    }

    #[test]
    fn futex_ops_are_named() {
        assert_eq!(futex_op(0x80), "FUTEX_WAIT_PRIVATE");
        assert_eq!(futex_op(0x89), "FUTEX_WAIT_BITSET_PRIVATE");
        assert_eq!(
            futex_op(0x189),
            "FUTEX_WAIT_BITSET_PRIVATE|FUTEX_CLOCK_REALTIME"
        );
        assert_eq!(futex_op(1), "FUTEX_WAKE");
        assert_eq!(futex_op(0x7f), "0x7f");
    }

    #[test]
    fn calls_format_like_strace() {
        assert_eq!(
            format(202, &[0x7f1c2a4b3910, 0x80, 2, 0, 0, 0]),
            "futex(0x7f1c2a4b3910, FUTEX_WAIT_PRIVATE, 2, NULL)"
        );
        assert_eq!(
            format(0, &[3, 0x7ffc0000, 4096, 0, 0, 0]),
            "read(3, 0x7ffc0000, 4096)"
        );
        assert_eq!(
            format(230, &[1, 0, 0x7ffd1000, 0x7ffd1010, 0, 0]),
            "clock_nanosleep(CLOCK_MONOTONIC, 0x0, 0x7ffd1000, 0x7ffd1010)"
        );
        assert_eq!(
            format(232, &[5, 0x5000, 128, u32::MAX as u64, 0, 0]),
            "epoll_wait(5, 0x5000, 128, -1)"
        );
        assert_eq!(format(34, &[0; 6]), "pause()");
        assert_eq!(
            format(444, &[1, 2, 3, 4, 5, 6]),
            "syscall_444(0x1, 0x2, 0x3, 0x4, 0x5, 0x6)"
        );
    }
}
