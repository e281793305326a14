//! What /proc adds about a blocked thread beyond its kernel view: the kernel stack it sleeps
//! on, and the children it may be waiting for.

use super::read_small;

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
