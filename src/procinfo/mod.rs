//! Every /proc read of ptscope, in one layer: the tracer, the symbols and the UI ask here.
//!
//! - `tasks`: the thread list, names, states, tracers, pending signals, why an attach is refused;
//! - `maps`: /proc/PID/maps and the handles to mapped files (map_files, root);
//! - `mem`: the /proc/PID/mem file the memory fallback reads and writes through;
//! - `kernel`: the kernel's view of each thread (state, wchan, system call, CPU time);
//! - `syscalls`: system call numbers and arguments, named the way strace names them;
//! - `smaps`, `pagemap`, `auxv`, `core_facts`, `meminfo`: what `ptscope core` needs (private
//!   pages and VmFlags per mapping, which pages are resident, the auxiliary vector, ids,
//!   masks and CPU times, free memory);
//! - `sched`: when each thread last ran, on the scheduler's per-CPU clock;
//! - `fds`: file descriptors, fdinfo (epoll sets, eventfd) and who holds a pipe or socket;
//! - `net`: the socket tables of a network namespace, by inode;
//! - `blocked`: a blocked thread's kernel stack and children;
//! - `error`: `ProcError`, what went wrong in a way a caller can act on (gone, not allowed).
//!
//! The procfs crate reads what it parses well (status and stat fields, the executable); the
//! readers that stay hand-written say why, with the figures measured here.

pub mod auxv;
pub mod blocked;
pub mod core_facts;
pub mod error;
pub mod fds;
pub mod kernel;
pub mod maps;
pub mod mem;
pub mod meminfo;
pub mod net;
pub mod pagemap;
pub mod sched;
pub mod smaps;
pub mod syscalls;
pub mod tasks;

pub use error::ProcError;
pub use kernel::{
    read_process, read_threads, ProcReader, ProcessInfo, SyscallState, ThreadKernelView,
};
pub use maps::Mapping;

use std::fs::File;
use std::io::{self, Read};

/// Reads a small /proc file into `buf` (replacing its contents) with plain read(2) calls.
/// `read_to_end` on a File first asks for the size (statx) and the position (lseek), which
/// /proc cannot answer usefully: two wasted system calls per file, thousands per dump.
pub fn read_small(path: &str, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut f = File::open(path)?;
    buf.clear();
    buf.resize(buf.capacity().max(512), 0);
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                // /proc hands out a whole small file in one read: a read that did not fill
                // the buffer was the last, and asking again for the EOF is one more call.
                if len < buf.len() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(())
}

/// For tests: runs `setup` on a new thread of this process, then `check` with that thread's
/// id while it is still alive; the thread ends and is joined before this returns.
#[cfg(test)]
pub(crate) fn with_thread<T>(
    setup: impl FnOnce() + Send + 'static,
    check: impl FnOnce(i32) -> T,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        setup();
        let _ = tx.send(nix::unistd::gettid().as_raw());
        let _ = done_rx.recv();
    });
    let tid = rx.recv().expect("the test thread runs");
    let out = check(tid);
    drop(done_tx);
    t.join().expect("the test thread ends");
    out
}
