//! `ptscope __demo hung-pi`: the cycle of `hung-cycle` with priority-inheritance mutexes.
//! Threads 0 and 1 block in FUTEX_LOCK_PI first; when thread 2 asks for mutex 0 the kernel
//! finds the cycle and answers EDEADLK, and glibc parks thread 2 for ever in a futex wait on
//! its own stack (pthread_mutex_lock.c, "delay the thread indefinitely").
//!
//! READY {"pid", "tids": [t0, t1, t2], "locks": [m0, m1, m2]} once 0 and 1 are blocked.

use super::{gettid, ready, spawn, Mutex};
use std::hint::black_box;
use std::sync::{mpsc, Arc, Barrier};

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_pi_m0: Mutex = Mutex::new();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_pi_m1: Mutex = Mutex::new();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_pi_m2: Mutex = Mutex::new();

extern "C" {
    // glibc has it; the libc crate does not declare it for Linux.
    fn pthread_mutexattr_setprotocol(attr: *mut libc::pthread_mutexattr_t, protocol: i32) -> i32;
}
const PTHREAD_PRIO_INHERIT: i32 = 1;

fn lock(i: usize) -> &'static Mutex {
    [&ptscope_pi_m0, &ptscope_pi_m1, &ptscope_pi_m2][i % 3]
}

fn init_pi(m: &Mutex) {
    // SAFETY: attr is initialised before use and destroyed after; the mutex is a static that
    // no thread uses before this runs.
    unsafe {
        let mut attr = std::mem::zeroed::<libc::pthread_mutexattr_t>();
        libc::pthread_mutexattr_init(&mut attr);
        pthread_mutexattr_setprotocol(&mut attr, PTHREAD_PRIO_INHERIT);
        libc::pthread_mutex_init(m.ptr(), &attr);
        libc::pthread_mutexattr_destroy(&mut attr);
    }
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_pi_take(second: usize) -> i32 {
    // SAFETY: an initialised static mutex.
    black_box(unsafe { libc::pthread_mutex_lock(lock(black_box(second)).ptr()) })
}

/// Whether the thread sleeps in FUTEX_LOCK_PI (not merely in some futex: the barrier before
/// it is one too), read through the same /proc layer ptscope uses.
fn blocked_in_lock_pi(tid: i32) -> bool {
    let pid = std::process::id() as i32;
    crate::procinfo::ProcReader::new()
        .thread(pid, tid)
        .is_ok_and(|v| match v.syscall {
            crate::procinfo::SyscallState::InSyscall { nr, args, .. } => {
                v.state == 'S' && nr == libc::SYS_futex && args[1] & 0x7f == 6
            }
            _ => false,
        })
}

pub fn run() -> i32 {
    for i in 0..3 {
        init_pi(lock(i));
    }
    let all_hold = Arc::new(Barrier::new(3));
    let (tx, rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let mut go_rx = Some(go_rx);
    for i in 0..3 {
        let (all_hold, tx) = (all_hold.clone(), tx.clone());
        let go = if i == 2 { go_rx.take() } else { None };
        spawn(&format!("pi-{i}"), move || {
            lock(i).lock();
            let _ = tx.send((i, gettid()));
            all_hold.wait();
            if let Some(go) = go {
                // The last lock of the cycle only once the others wait in the kernel, so the
                // kernel refuses this one.
                let _ = go.recv();
            }
            ptscope_pi_take(i + 1)
        });
    }
    let mut tids = [0; 3];
    for (i, tid) in rx.iter().take(3) {
        tids[i] = tid;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !(blocked_in_lock_pi(tids[0]) && blocked_in_lock_pi(tids[1])) {
        if std::time::Instant::now() > deadline {
            eprintln!("pi threads never blocked");
            return 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = go_tx.send(());
    ready(serde_json::json!({
        "pid": std::process::id(),
        "tids": tids,
        "locks": [lock(0).addr(), lock(1).addr(), lock(2).addr()],
    }))
}
