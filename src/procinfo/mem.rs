//! The /proc/PID/mem file: reads with the tracer's FOLL_FORCE rights (text mapped without
//! PROT_READ) and writes to read-only text, which is where breakpoints live.

use super::ProcError;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::PathBuf;

fn path(pid: i32, tid: Option<i32>) -> PathBuf {
    match tid {
        Some(tid) => PathBuf::from(format!("/proc/{pid}/task/{tid}/mem")),
        None => PathBuf::from(format!("/proc/{pid}/mem")),
    }
}

/// Opens the process's memory for reading and writing: through one thread's view when `tid`
/// is given (needed once the leader is a zombie and has no memory of its own). The error
/// names the path.
pub fn open(pid: i32, tid: Option<i32>) -> Result<File, ProcError> {
    let p = path(pid, tid);
    let file = if tid.is_some() { "task/TID/mem" } else { "mem" };
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .map_err(|e| match tid {
            Some(t) => ProcError::from_io(pid, file, e).of_thread(t),
            None => ProcError::from_io(pid, file, e),
        })
}

/// Opens it read-only (a reader that never writes needs no more).
pub fn open_read(pid: i32) -> io::Result<File> {
    File::open(path(pid, None))
}
