//! `ptscope __demo hung-chain`: no deadlock, a chain. The holder takes `ptscope_chain_m` and
//! blocks in read() on a pipe nobody writes to; two waiters want that mutex, and the second of
//! them holds `ptscope_chain_inner`, which a third waiter wants:
//!
//!   inner_waiter -> waiter_2 -> holder (read on the pipe); waiter_1 -> holder
//!
//! READY {"pid", "holder", "waiters": [w1, w2], "inner_waiter", "lock", "inner", "pipe_read",
//! "pipe_write"}.

use super::{gettid, pipe, read_forever, ready, spawn, Mutex};
use std::hint::black_box;
use std::sync::mpsc;

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_chain_m: Mutex = Mutex::new();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_chain_inner: Mutex = Mutex::new();

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_chain_hold(fd: i32) -> isize {
    ptscope_chain_m.lock();
    black_box(read_forever(black_box(fd)))
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_chain_wait() -> i32 {
    // SAFETY: an initialised static mutex.
    black_box(unsafe { libc::pthread_mutex_lock(ptscope_chain_m.ptr()) })
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_chain_wait_inner() -> i32 {
    // SAFETY: an initialised static mutex.
    black_box(unsafe { libc::pthread_mutex_lock(ptscope_chain_inner.ptr()) })
}

pub fn run() -> i32 {
    let [r, w] = pipe();
    let (tx, rx) = mpsc::channel();
    let step = |name: &str, f: fn(i32) -> i32, arg: i32| {
        let tx = tx.clone();
        spawn(name, move || {
            let _ = tx.send(gettid());
            f(arg)
        });
        rx.recv().unwrap_or(0)
    };
    let holder = step("holder", |fd| ptscope_chain_hold(fd) as i32, r);
    // The waiters must find the mutex taken: wait until the holder sits in read().
    wait_for_call(holder, "read");
    let w1 = step("waiter-1", |_| ptscope_chain_wait(), 0);
    let w2 = step(
        "waiter-2",
        |_| {
            ptscope_chain_inner.lock();
            ptscope_chain_wait()
        },
        0,
    );
    wait_for_call(w2, "futex");
    let inner = step("inner-waiter", |_| ptscope_chain_wait_inner(), 0);
    ready(serde_json::json!({
        "pid": std::process::id(),
        "holder": holder,
        "waiters": [w1, w2],
        "inner_waiter": inner,
        "lock": ptscope_chain_m.addr(),
        "inner": ptscope_chain_inner.addr(),
        "pipe_read": r,
        "pipe_write": w,
    }))
}

/// Waits (bounded) until the thread sleeps in the named system call.
pub fn wait_for_call(tid: i32, call: &str) {
    let pid = std::process::id() as i32;
    let mut r = crate::procinfo::ProcReader::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !r
        .thread(pid, tid)
        .is_ok_and(|v| v.state == 'S' && v.syscall.name().as_deref() == Some(call))
    {
        if std::time::Instant::now() > deadline {
            eprintln!("thread {tid} never blocked in {call}");
            std::process::exit(1);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
