//! `ptscope __demo hung-rwlock`: two glibc rwlocks.
//!
//! - `ptscope_rw_a`: "writer" holds it for writing; "reader" waits to read and "writer-2"
//!   waits to write, both behind the recorded writer;
//! - `ptscope_rw_b`: "reader-holder" holds it for reading; "writer-3" waits to write (readers
//!   are not recorded, so no holder can be named).
//!
//! READY {"pid", "a", "b", "writer", "reader", "writer_2", "reader_holder", "writer_3"}.

use super::chain::wait_for_call;
use super::{gettid, park, ready, spawn, RwLock};
use std::hint::black_box;
use std::sync::mpsc;

#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_rw_a: RwLock = RwLock::new();
#[no_mangle]
#[allow(non_upper_case_globals)]
pub static ptscope_rw_b: RwLock = RwLock::new();

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_rw_read(l: &'static RwLock) -> i32 {
    // SAFETY: the rwlock is an initialised static.
    black_box(unsafe { libc::pthread_rwlock_rdlock(l.ptr()) })
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_rw_write(l: &'static RwLock) -> i32 {
    // SAFETY: the rwlock is an initialised static.
    black_box(unsafe { libc::pthread_rwlock_wrlock(l.ptr()) })
}

fn start(name: &str, f: impl FnOnce() + Send + 'static) -> i32 {
    let (tx, rx) = mpsc::channel();
    spawn(name, move || {
        let _ = tx.send(gettid());
        f()
    });
    rx.recv().unwrap_or(0)
}

pub fn run() -> i32 {
    let writer = start("writer", || {
        ptscope_rw_write(&ptscope_rw_a);
        park()
    });
    let reader_holder = start("reader-holder", || {
        ptscope_rw_read(&ptscope_rw_b);
        park()
    });
    wait_for_call(writer, "pause");
    wait_for_call(reader_holder, "pause");
    let reader = start("reader", || {
        ptscope_rw_read(&ptscope_rw_a);
    });
    let writer_2 = start("writer-2", || {
        ptscope_rw_write(&ptscope_rw_a);
    });
    let writer_3 = start("writer-3", || {
        ptscope_rw_write(&ptscope_rw_b);
    });
    for t in [reader, writer_2, writer_3] {
        wait_for_call(t, "futex");
    }
    ready(serde_json::json!({
        "pid": std::process::id(),
        "a": ptscope_rw_a.addr(),
        "b": ptscope_rw_b.addr(),
        "writer": writer,
        "reader": reader,
        "writer_2": writer_2,
        "reader_holder": reader_holder,
        "writer_3": writer_3,
    }))
}
