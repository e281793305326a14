//! `ptscope __demo hung-vfork`: a thread inside a vfork-style clone (CLONE_VM | CLONE_VFORK,
//! what posix_spawn does) whose child never execs: the thread sits in D state in
//! `wait_for_vfork_done` (inlined into `kernel_clone` on Linux 6.18) until the child exits, and ptrace cannot stop it before that.
//! The child has its own stack and waits in read() on a pipe whose write end only this
//! process holds, so it exits when this process dies.
//!
//! READY {"pid", "vfork_tid", "child", "idle_tid"} once the thread is in D and the child is
//! listed.

use super::{gettid, pipe, ready, spawn};
use std::sync::mpsc;

const CHILD_STACK: usize = 64 * 1024;

extern "C" fn child(arg: *mut libc::c_void) -> i32 {
    let fds = arg as usize;
    let (r, w) = ((fds & 0xffff) as i32, (fds >> 16) as i32);
    let mut b = [0u8; 1];
    // SAFETY: raw system calls on descriptors this child owns (a copy of the parent's table),
    // on its own stack; _exit never returns into the shared memory.
    unsafe {
        libc::close(w);
        libc::read(r, b.as_mut_ptr().cast(), 1);
        libc::_exit(0)
    }
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_vfork_spawn(r: i32, w: i32) -> i32 {
    let stack: &'static mut [u8] = Box::leak(vec![0u8; CHILD_STACK].into_boxed_slice());
    // SAFETY: the child runs `child` on its own leaked stack (the stack grows down, so it gets
    // the top) and never returns into this frame.
    unsafe {
        let top = stack.as_mut_ptr().add(CHILD_STACK).cast::<libc::c_void>();
        libc::clone(
            child,
            top,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            ((w as usize) << 16 | r as usize) as *mut libc::c_void,
        )
    }
}

pub fn run() -> i32 {
    let [r, w] = pipe();
    let (tx, rx) = mpsc::channel();
    let (idle_tx, idle_rx) = mpsc::channel();
    spawn("idle", move || {
        let _ = idle_tx.send(gettid());
        super::park()
    });
    spawn("vforker", move || {
        let _ = tx.send(gettid());
        ptscope_vfork_spawn(r, w)
    });
    let idle_tid = idle_rx.recv().unwrap_or(0);
    let tid = rx.recv().unwrap_or(0);
    let pid = std::process::id() as i32;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut reader = crate::procinfo::ProcReader::new();
    let child = loop {
        let in_d = reader
            .thread(pid, tid)
            .is_ok_and(|v| crate::analysis::waits::in_vfork(&v, None));
        let kids = crate::procinfo::blocked::children(pid, tid);
        if let (true, Some(&c)) = (in_d, kids.first()) {
            break c;
        }
        if std::time::Instant::now() > deadline {
            eprintln!("the vfork thread never blocked");
            return 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    ready(serde_json::json!({"pid": pid, "vfork_tid": tid, "child": child, "idle_tid": idle_tid}))
}
