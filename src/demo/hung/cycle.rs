//! `ptscope __demo hung-cycle`: thread i holds mutex i and waits for mutex (i + 1) % 3; and
//! a fourth thread, "relock", takes `ptscope_cycle_self` twice (a normal mutex does not
//! detect it: the thread waits for itself).
//!
//! READY {"pid", "tids": [t0, t1, t2], "locks": [m0, m1, m2], "relock", "self_lock"}, the
//! relock thread started after the others (so its tid is higher).

use super::{gettid, ready, spawn, Mutex};
use std::hint::black_box;
use std::sync::{mpsc, Arc, Barrier};

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_cycle_m0: Mutex = Mutex::new();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_cycle_m1: Mutex = Mutex::new();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_cycle_m2: Mutex = Mutex::new();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_cycle_self: Mutex = Mutex::new();

fn lock(i: usize) -> &'static Mutex {
    [&ptscope_cycle_m0, &ptscope_cycle_m1, &ptscope_cycle_m2][i % 3]
}

/// Takes `second` while holding `first`: where each thread of the cycle waits.
#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_cycle_take(second: usize) -> i32 {
    // SAFETY: an initialised static mutex.
    black_box(unsafe { libc::pthread_mutex_lock(lock(black_box(second)).ptr()) })
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_cycle_relock() -> i32 {
    ptscope_cycle_self.lock();
    // SAFETY: an initialised static mutex, locked again by its holder.
    black_box(unsafe { libc::pthread_mutex_lock(ptscope_cycle_self.ptr()) })
}

pub fn run() -> i32 {
    let all_hold = Arc::new(Barrier::new(3));
    let (tx, rx) = mpsc::channel();
    for i in 0..3 {
        let (all_hold, tx) = (all_hold.clone(), tx.clone());
        spawn(&format!("cycle-{i}"), move || {
            lock(i).lock();
            let _ = tx.send((i, gettid()));
            all_hold.wait();
            ptscope_cycle_take(i + 1)
        });
    }
    let mut tids = [0; 3];
    for (i, tid) in rx.iter().take(3) {
        tids[i] = tid;
    }
    spawn("relock", move || {
        let _ = tx.send((3, gettid()));
        ptscope_cycle_relock()
    });
    let relock = rx.recv().map_or(0, |(_, t)| t);
    ready(serde_json::json!({
        "pid": std::process::id(),
        "tids": tids,
        "locks": [lock(0).addr(), lock(1).addr(), lock(2).addr()],
        "relock": relock,
        "self_lock": ptscope_cycle_self.addr(),
    }))
}
