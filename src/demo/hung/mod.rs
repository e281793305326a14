//! Hung processes, for the analysis tests (`ptscope __demo hung-NAME`): each blocks its threads
//! in a known shape and prints `READY {json}` with the tids and addresses a test checks, then
//! the main thread waits forever in pause().
//!
//! - `hung-cycle`: three threads in a mutex cycle;
//! - `hung-pi`: three threads in a priority-inheritance mutex cycle (the kernel refuses the
//!   last lock with EDEADLK and glibc parks that thread);
//! - `hung-chain`: waiters on a holder blocked in read() on a pipe, one of them a holder too;
//! - `hung-orphan`: a mutex whose holder thread exited, and its waiter;
//! - `hung-waits`: condvar, Rust std Mutex, recv() on a local TCP connection, accept(), epoll,
//!   sleep and pthread_join waiters;
//! - `hung-rwlock`: a writer holding an rwlock with a reader and a writer waiting, and a
//!   reader holding one with a writer waiting;
//! - `hung-pool`: hundreds of threads in three stack shapes (`--per-shape N`, default 100);
//! - `hung-vfork`: a thread inside a vfork-style clone whose child never execs;
//! - `hung-busy`: not hung: threads contending for two mutexes taken in one order.
//!
//! pthread locks are used through libc directly: Rust's std Mutex is a bare futex with no owner.

pub mod busy;
pub mod chain;
pub mod cycle;
pub mod orphan;
pub mod pi;
pub mod pool;
pub mod rwlock;
pub mod vfork;
pub mod waits;

use std::cell::UnsafeCell;
use std::io::Write;

pub fn run(name: &str, args: &[String]) -> i32 {
    match name {
        "hung-cycle" => cycle::run(),
        "hung-pi" => pi::run(),
        "hung-chain" => chain::run(),
        "hung-orphan" => orphan::run(),
        "hung-waits" => waits::run(),
        "hung-rwlock" => rwlock::run(),
        "hung-pool" => pool::run(args),
        "hung-vfork" => vfork::run(),
        "hung-busy" => busy::run(),
        other => {
            eprintln!("ptscope: unknown demo program {other:?}");
            2
        }
    }
}

/// A glibc mutex in a static, so it has a symbol of its own.
pub struct Mutex(UnsafeCell<libc::pthread_mutex_t>);

// SAFETY: a pthread mutex is made to be shared between threads; only its address is handed out.
unsafe impl Sync for Mutex {}

impl Mutex {
    pub const fn new() -> Self {
        Mutex(UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER))
    }

    pub fn ptr(&self) -> *mut libc::pthread_mutex_t {
        self.0.get()
    }

    pub fn lock(&self) -> i32 {
        // SAFETY: the mutex is initialised (statically or by `init_pi`) and lives for ever.
        unsafe { libc::pthread_mutex_lock(self.ptr()) }
    }

    pub fn addr(&self) -> String {
        format!("{:#x}", self.ptr() as usize)
    }
}

impl Default for Mutex {
    fn default() -> Self {
        Self::new()
    }
}

/// A glibc rwlock in a static.
pub struct RwLock(UnsafeCell<libc::pthread_rwlock_t>);

// SAFETY: as for Mutex.
unsafe impl Sync for RwLock {}

impl RwLock {
    pub const fn new() -> Self {
        RwLock(UnsafeCell::new(libc::PTHREAD_RWLOCK_INITIALIZER))
    }

    pub fn ptr(&self) -> *mut libc::pthread_rwlock_t {
        self.0.get()
    }

    pub fn addr(&self) -> String {
        format!("{:#x}", self.ptr() as usize)
    }
}

impl Default for RwLock {
    fn default() -> Self {
        Self::new()
    }
}

/// A glibc condition variable in a static.
pub struct Cond(UnsafeCell<libc::pthread_cond_t>);

// SAFETY: as for Mutex.
unsafe impl Sync for Cond {}

impl Cond {
    pub const fn new() -> Self {
        Cond(UnsafeCell::new(libc::PTHREAD_COND_INITIALIZER))
    }

    pub fn ptr(&self) -> *mut libc::pthread_cond_t {
        self.0.get()
    }

    pub fn addr(&self) -> String {
        format!("{:#x}", self.ptr() as usize)
    }
}

impl Default for Cond {
    fn default() -> Self {
        Self::new()
    }
}

pub fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// Waits for signals for ever: the shape of an idle main thread.
pub fn park() -> ! {
    loop {
        // SAFETY: pause has no preconditions.
        unsafe { libc::pause() };
    }
}

/// Starts a named thread, or ends the program with a one-line error.
pub fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    match std::thread::Builder::new().name(name.into()).spawn(f) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("spawn {name}: {e}");
            std::process::exit(1)
        }
    }
}

/// Prints the READY line, then parks the main thread.
pub fn ready(v: serde_json::Value) -> ! {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "READY {v}");
    let _ = out.flush();
    drop(out);
    park()
}

/// A pipe, or the end of the program.
pub fn pipe() -> [i32; 2] {
    let mut fds = [0i32; 2];
    // SAFETY: fds has room for the two descriptors pipe writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        eprintln!("pipe: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
    fds
}

/// Blocks in read(2) on `fd` for ever (nobody writes).
#[inline(never)]
pub fn read_forever(fd: i32) -> isize {
    let mut buf = [0u8; 16];
    // SAFETY: buf is a live local of the length passed.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    std::hint::black_box(n)
}
