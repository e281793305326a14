//! `ptscope __demo hung-busy`: not hung. Six threads contend without pause for two mutexes,
//! always taken in the same order (`ptscope_busy_outer`, then `ptscope_busy_inner`), so they
//! wait for each other all the time and can never deadlock: a dump must never report one.
//!
//! READY {"pid", "tids": [...], "rounds"} where "rounds" is the address of a counter of
//! finished rounds (u64), to show the process still makes progress.

use super::{gettid, ready, spawn, Mutex};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_busy_outer: Mutex = Mutex::new();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_busy_inner: Mutex = Mutex::new();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_busy_rounds: AtomicU64 = AtomicU64::new(0);

fn unlock(m: &Mutex) {
    // SAFETY: called by the thread that locked it, on an initialised static mutex.
    unsafe { libc::pthread_mutex_unlock(m.ptr()) };
}

pub fn run() -> i32 {
    let (tx, rx) = mpsc::channel();
    for i in 0..6 {
        let tx = tx.clone();
        spawn(&format!("busy-{i}"), move || {
            let _ = tx.send(gettid());
            loop {
                // Two threads only ever want the inner lock; the others take both, in order.
                if i >= 4 {
                    ptscope_busy_inner.lock();
                    unlock(&ptscope_busy_inner);
                } else {
                    ptscope_busy_outer.lock();
                    ptscope_busy_inner.lock();
                    unlock(&ptscope_busy_inner);
                    unlock(&ptscope_busy_outer);
                }
                ptscope_busy_rounds.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let tids: Vec<i32> = rx.iter().take(6).collect();
    ready(serde_json::json!({
        "pid": std::process::id(),
        "tids": tids,
        "rounds": format!("{:#x}", &ptscope_busy_rounds as *const AtomicU64 as usize),
    }))
}
