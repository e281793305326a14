//! What /proc adds about a blocked thread beyond its kernel view: the kernel stack it sleeps
//! on, and the children it may be waiting for.

use super::{read_small, SyscallState, ThreadKernelView};

/// The functions of the thread's kernel stack, innermost first (`wait_for_vfork_done`,
/// `kernel_clone`, ...), from /proc/PID/task/TID/stack. Needs CAP_SYS_ADMIN-level access;
/// an error says it is not readable here.
pub fn kernel_stack(pid: i32, tid: i32) -> std::io::Result<Vec<String>> {
    let mut buf = Vec::with_capacity(1024);
    read_small(&format!("/proc/{pid}/task/{tid}/stack"), &mut buf)?;
    Ok(parse_kernel_stack(&String::from_utf8_lossy(&buf)))
}

/// `[<0>] wait_for_vfork_done+0x2a/0x40` lines to `wait_for_vfork_done`.
pub fn parse_kernel_stack(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let f = l.split_once(']').map_or(l, |(_, r)| r).trim();
            let name = f.split('+').next()?.trim();
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

/// The processes this thread created and that have not been reaped yet
/// (/proc/PID/task/TID/children); empty when none or unreadable.
pub fn children(pid: i32, tid: i32) -> Vec<i32> {
    let mut buf = Vec::with_capacity(64);
    if read_small(&format!("/proc/{pid}/task/{tid}/children"), &mut buf).is_err() {
        return Vec::new();
    }
    String::from_utf8_lossy(&buf)
        .split_ascii_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// A vfork parent: asleep in D where the kernel waits for the child to exec or exit. That is
/// `wait_for_vfork_done`, which Linux 6.18 here inlines into `kernel_clone` (wchan and the
/// kernel stack then name `kernel_clone`; any other sleep inside a clone names a deeper
/// function), in a clone, clone3 or vfork call. Such a thread cannot be stopped by ptrace
/// until the child execs or exits.
pub fn in_vfork(k: &ThreadKernelView, kstack: Option<&[String]>) -> bool {
    let named = |f: &str| f == "wait_for_vfork_done" || f == "kernel_clone";
    let cloning = match &k.syscall {
        SyscallState::InSyscall { nr, args, .. } => match *nr {
            libc::SYS_vfork | libc::SYS_clone3 => true,
            libc::SYS_clone => args[0] & libc::CLONE_VFORK as u64 != 0,
            _ => false,
        },
        _ => true,
    };
    k.state == 'D'
        && cloning
        && (k.wchan.as_deref().is_some_and(named)
            || kstack.and_then(|s| s.first()).is_some_and(|f| named(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_stack_lines_become_function_names() {
        let text = "[<0>] wait_for_vfork_done+0x2a/0x40\n[<0>] kernel_clone+0x1f3/0x3e0\n\
            [<0>] __do_sys_vfork+0x5a/0x80\n[<0>] do_syscall_64+0x82/0x190\n";
        assert_eq!(
            parse_kernel_stack(text),
            [
                "wait_for_vfork_done",
                "kernel_clone",
                "__do_sys_vfork",
                "do_syscall_64"
            ]
        );
        assert!(parse_kernel_stack("").is_empty());
    }

    #[test]
    fn a_child_is_listed_under_the_thread_that_made_it() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        let me = std::process::id() as i32;
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        let listed = children(me, tid);
        let _ = child.kill();
        let _ = child.wait();
        assert!(listed.contains(&(child.id() as i32)), "{listed:?}");
        assert!(kernel_stack(me, tid).is_ok());
    }
}
