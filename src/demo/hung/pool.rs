//! `ptscope __demo hung-pool [--per-shape N]`: three pools of N threads (default 100), each
//! pool in one stack shape: "pool-cv" idle on a condition variable, "pool-read" in read() on
//! a pipe, "pool-sleep" in a long sleep. No lock is held by anyone: nothing to report but the
//! three groups.
//!
//! READY {"pid", "cv": [tids], "read": [tids], "sleep": [tids]} once every thread sleeps.

use super::chain::wait_for_call;
use super::{gettid, pipe, read_forever, ready, spawn, Cond, Mutex};
use std::hint::black_box;
use std::sync::mpsc;

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_pool_cv: Cond = Cond::new();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_pool_mtx: Mutex = Mutex::new();

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_pool_idle() -> i32 {
    ptscope_pool_mtx.lock();
    // SAFETY: initialised statics; the mutex is held as pthread_cond_wait requires. Each wait
    // releases it, so every pool thread gets in.
    black_box(unsafe { libc::pthread_cond_wait(ptscope_pool_cv.ptr(), ptscope_pool_mtx.ptr()) })
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_pool_read(fd: i32) -> isize {
    black_box(read_forever(black_box(fd)))
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_pool_sleep() {
    std::thread::sleep(std::time::Duration::from_secs(1_000_000));
}

pub fn run(args: &[String]) -> i32 {
    let per_shape: usize = match args {
        [flag, n] if flag == "--per-shape" => n.parse().unwrap_or(100),
        _ => 100,
    };
    let [r, _w] = pipe();
    let (tx, rx) = mpsc::channel();
    let mut pools: [Vec<i32>; 3] = Default::default();
    for shape in 0..3usize {
        for _ in 0..per_shape {
            let tx = tx.clone();
            let name = ["pool-cv", "pool-read", "pool-sleep"][shape];
            // One closure per shape: every thread of a shape runs the same code.
            spawn(name, move || {
                let _ = tx.send((shape, gettid()));
                match shape {
                    0 => {
                        ptscope_pool_idle();
                    }
                    1 => {
                        ptscope_pool_read(r);
                    }
                    _ => ptscope_pool_sleep(),
                }
            });
        }
    }
    drop(tx);
    for (shape, tid) in rx.iter().take(3 * per_shape) {
        pools[shape].push(tid);
    }
    for (shape, call) in [(0, "futex"), (1, "read"), (2, "clock_nanosleep")] {
        pools[shape].sort_unstable();
        for &t in &pools[shape] {
            wait_for_call(t, call);
        }
    }
    // A condvar thread may still be queued on the mutex on its way in: wait until each sleeps
    // on the condvar itself (a futex other than the mutex's word).
    let pid = std::process::id() as i32;
    let mtx = ptscope_pool_mtx.ptr() as u64;
    let mut reader = crate::procinfo::ProcReader::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for &t in &pools[0] {
        while !reader.thread(pid, t).is_ok_and(|v| match v.syscall {
            crate::procinfo::SyscallState::InSyscall { args, .. } => args[0] != mtx,
            _ => false,
        }) {
            if std::time::Instant::now() > deadline {
                eprintln!("pool thread {t} never reached the condvar");
                return 1;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    ready(serde_json::json!({
        "pid": std::process::id(),
        "cv": pools[0],
        "read": pools[1],
        "sleep": pools[2],
    }))
}
