//! `ptscope __demo chain`: threads parked at known places, for symbol and backtrace tests.
//!
//! - thread "chain": ptscope_chain_a -> ptscope_chain_b -> ptscope_chain_c -> libc read() on
//!   a pipe nobody writes to;
//! - thread "mutex": ptscope::demo::chain::mutex_waiter (a mangled Rust name) blocked in
//!   pthread_mutex_lock on a mutex the main thread holds.
//!
//! Prints `READY {"pid":..,"chain_tid":..,"mutex_tid":..}` once both threads exist, then the
//! main thread sleeps forever. The threads may not be blocked yet at READY; callers wait for
//! the kernel to show them in read / futex.

use std::hint::black_box;
use std::io::Write;
use std::sync::mpsc;

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_chain_c(fd: i32) -> i64 {
    let mut buf = [0u8; 16];
    // SAFETY: buf is a live local of the length passed.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    black_box(n as i64) + i64::from(black_box(buf[0]))
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_chain_b(fd: i32) -> i64 {
    // black_box after the call keeps it a call, not a tail jump, so this frame stays on the stack.
    black_box(ptscope_chain_c(black_box(fd))) + 1
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn ptscope_chain_a(fd: i32) -> i64 {
    black_box(ptscope_chain_b(black_box(fd))) + 1
}

#[inline(never)]
pub fn mutex_waiter(lock: usize) -> i32 {
    // SAFETY: `lock` is the address of an initialised mutex leaked by `run`, never freed.
    let r = unsafe { libc::pthread_mutex_lock(black_box(lock) as *mut libc::pthread_mutex_t) };
    black_box(r)
}

fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

pub fn run(_args: &[String]) -> ! {
    let lock = Box::into_raw(Box::new(libc::PTHREAD_MUTEX_INITIALIZER)) as usize;
    // SAFETY: lock points to a freshly initialised mutex that lives for the whole process.
    unsafe { libc::pthread_mutex_lock(lock as *mut libc::pthread_mutex_t) };
    let mut fds = [0i32; 2];
    // SAFETY: fds has room for the two descriptors pipe writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        eprintln!("pipe: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    let read_fd = fds[0];

    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("chain".into())
        .spawn(move || {
            let _ = tx.send(("chain", gettid()));
            ptscope_chain_a(read_fd)
        })
        .and_then(|_| {
            std::thread::Builder::new()
                .name("mutex".into())
                .spawn(move || {
                    let _ = tx2.send(("mutex", gettid()));
                    mutex_waiter(lock)
                })
        });
    if let Err(e) = spawned {
        eprintln!("spawn: {e}");
        std::process::exit(1);
    }
    let mut chain_tid = 0;
    let mut mutex_tid = 0;
    for (who, tid) in rx.iter().take(2) {
        match who {
            "chain" => chain_tid = tid,
            _ => mutex_tid = tid,
        }
    }
    let ready = serde_json::json!({
        "pid": std::process::id(),
        "chain_tid": chain_tid,
        "mutex_tid": mutex_tid,
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "READY {ready}");
    let _ = out.flush();
    drop(out);
    loop {
        // SAFETY: pause has no preconditions; the write end of the pipe stays open with us.
        unsafe { libc::pause() };
    }
}
