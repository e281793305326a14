//! What a thread in `restart_syscall()` is really doing.
//!
//! A sleep, a timed futex wait or a timed poll that a tracer interrupts (PTRACE_INTERRUPT, or
//! any stop) ends in the kernel with -ERESTART_RESTARTBLOCK. When the thread resumes without a
//! signal handler to run, the kernel sets rax to `__NR_restart_syscall`, moves rip back onto the
//! `syscall` instruction, and the thread re-enters the kernel through `restart_syscall`, which
//! calls the restart function saved for the interrupted call. From then until that call ends,
//! /proc/PID/task/TID/syscall says `219` and wchan says `do_syscall_64` (the restart function
//! is not a scheduler function the kernel names). Every thread that was asleep when *any*
//! tracer stopped it (an earlier ptscope, `ptscope dump`, gdb, or our own `s` then `c`) reads
//! that way, and the view no longer says it sleeps.
//!
//! Two facts survive: the argument registers are untouched (the kernel only rewrote rax), so
//! the six arguments /proc shows are the interrupted call's; and the pc is just after the
//! `syscall` instruction of the wrapper that made the call. The function that pc is in names
//! the call.

use crate::procinfo::{SyscallState, ThreadKernelView};

/// glibc's (and musl's) wrappers that hold the `syscall` instruction of a call the kernel
/// restarts through a restart block, by their bare names (leading underscores dropped), and
/// the call's number. The generic `syscall()` is not among them: it moves the number out of
/// the argument registers, so its call cannot be told afterwards.
fn wrapper_call(function: &str) -> Option<i64> {
    let bare = function.trim_start_matches('_');
    // A name may carry a version (`clock_nanosleep@GLIBC_2.17`) or an offset (`poll+0x4b`).
    let bare = bare.split(['@', '+']).next().unwrap_or(bare);
    Some(match bare {
        "clock_nanosleep" | "clock_nanosleep_time64" | "GI___clock_nanosleep" => {
            libc::SYS_clock_nanosleep
        }
        "nanosleep" | "libc_nanosleep" | "thrd_sleep" => libc::SYS_nanosleep,
        "poll" | "libc_poll" => libc::SYS_poll,
        "ppoll" | "ppoll64" => libc::SYS_ppoll,
        f if f.starts_with("futex_abstimed_wait") => libc::SYS_futex,
        _ => return None,
    })
}

/// The view as the call being restarted, when the thread is in `restart_syscall()` at a pc in
/// a wrapper that tells which (`function`, the symbol the pc is in). None otherwise.
pub fn restarted(view: &ThreadKernelView, function: Option<&str>) -> Option<ThreadKernelView> {
    let SyscallState::InSyscall { nr, args, sp, pc } = view.syscall else {
        return None;
    };
    if nr != libc::SYS_restart_syscall {
        return None;
    }
    let nr = wrapper_call(function?)?;
    Some(ThreadKernelView {
        syscall: SyscallState::InSyscall { nr, args, sp, pc },
        ..view.clone()
    })
}

/// The pc a restart_syscall view was read at, to name its function.
pub fn restart_pc(view: &ThreadKernelView) -> Option<u64> {
    match view.syscall {
        SyscallState::InSyscall { nr, pc, .. } if nr == libc::SYS_restart_syscall => Some(pc),
        _ => None,
    }
}

/// Names each `restart_syscall()` among `views` for the call it restarts, in place, where the
/// wrapper its pc is in tells; `function_at` names the function a pc is in.
pub fn name_all<'a>(
    views: impl IntoIterator<Item = &'a mut ThreadKernelView>,
    function_at: impl Fn(u64) -> Option<String>,
) {
    for v in views {
        let Some(pc) = restart_pc(v) else { continue };
        if let Some(r) = restarted(v, function_at(pc).as_deref()) {
            *v = r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(syscall: &str) -> ThreadKernelView {
        ThreadKernelView {
            tid: 7,
            comm: "sleep".into(),
            state: 'S',
            wchan: Some("do_syscall_64".into()),
            syscall: SyscallState::parse(syscall),
            cpu_ms: 0,
        }
    }

    // As read here from a `sleep 1000` that a tracer had stopped once and let go.
    const RESTART: &str =
        "219 0x0 0x0 0x7ffe7333eea0 0x7ffe7333eee0 0x0 0x0 0x7ffe7333ee88 0x7f397f856503";

    #[test]
    fn a_restarted_sleep_is_named_by_its_wrapper() {
        let v = view(RESTART);
        assert_eq!(restart_pc(&v), Some(0x7f39_7f85_6503));
        let r = restarted(&v, Some("clock_nanosleep+0x23")).expect("named");
        assert_eq!(
            r.syscall.call().as_deref(),
            Some("clock_nanosleep(CLOCK_REALTIME, 0x0, 0x7ffe7333eea0, 0x7ffe7333eee0)")
        );
        assert_eq!((r.tid, r.state), (7, 'S'), "the rest of the view is kept");
        for f in [
            "__clock_nanosleep",
            "clock_nanosleep@GLIBC_2.17",
            "__clock_nanosleep_time64",
        ] {
            assert!(restarted(&v, Some(f)).is_some(), "{f}");
        }
        let futex = restarted(&v, Some("__futex_abstimed_wait_common64+0x106")).unwrap();
        assert_eq!(futex.syscall.name().as_deref(), Some("futex"));
    }

    #[test]
    fn nothing_is_guessed() {
        let v = view(RESTART);
        assert_eq!(restarted(&v, None), None, "no symbol");
        assert_eq!(
            restarted(&v, Some("syscall+0x19")),
            None,
            "syscall() hides the number"
        );
        assert_eq!(restarted(&v, Some("main")), None);
        let sleeping = view("230 0x0 0x0 0x7ffe7333eea0 0x0 0x0 0x0 0x7ffe7333ee88 0x7f397f856503");
        assert_eq!(
            restarted(&sleeping, Some("clock_nanosleep")),
            None,
            "not restarted"
        );
        assert_eq!(restart_pc(&sleeping), None);
        assert_eq!(restarted(&view("running"), Some("clock_nanosleep")), None);
    }
}
