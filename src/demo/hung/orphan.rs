//! `ptscope __demo hung-orphan`: a thread takes `ptscope_orphan_m` and exits without
//! unlocking it; glibc leaves its tid in `__owner` for ever, and the next locker waits for
//! ever.
//!
//! READY {"pid", "owner" (exited), "waiter", "lock"}.

use super::chain::wait_for_call;
use super::{gettid, ready, spawn, Mutex};
use std::hint::black_box;

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_orphan_m: Mutex = Mutex::new();

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_orphan_wait() -> i32 {
    // SAFETY: an initialised static mutex.
    black_box(unsafe { libc::pthread_mutex_lock(ptscope_orphan_m.ptr()) })
}

pub fn run() -> i32 {
    let owner = spawn("leaver", || {
        ptscope_orphan_m.lock();
        gettid()
    })
    .join()
    .unwrap_or(0);
    let (tx, rx) = std::sync::mpsc::channel();
    spawn("orphan-waiter", move || {
        let _ = tx.send(gettid());
        ptscope_orphan_wait()
    });
    let waiter = rx.recv().unwrap_or(0);
    wait_for_call(waiter, "futex");
    ready(serde_json::json!({
        "pid": std::process::id(),
        "owner": owner,
        "waiter": waiter,
        "lock": ptscope_orphan_m.addr(),
    }))
}
