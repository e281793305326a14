//! The error of the /proc layer, told apart the way a caller acts on it: the process is gone,
//! we may not look, or something else went wrong reading or parsing a file.

use std::io;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProcError {
    /// ESRCH or ENOENT: /proc no longer lists the process.
    #[error("process {pid} has exited")]
    Gone { pid: i32 },
    /// ESRCH or ENOENT on a thread's own directory while its process may live on.
    #[error("thread {tid} of process {pid} has exited")]
    ThreadGone { pid: i32, tid: i32 },
    /// EACCES or EPERM: the file needs ptrace rights over the process (or hidepid hides it).
    #[error("permission denied reading /proc/{pid}/{file}")]
    PermissionDenied { pid: i32, file: String },
    #[error("cannot read /proc/{pid}/{file}: {source}")]
    Io {
        pid: i32,
        file: String,
        #[source]
        source: io::Error,
    },
    /// The file did not have the shape the kernel documents.
    #[error("unexpected contents in /proc/{pid}/{file}: {what}")]
    Malformed {
        pid: i32,
        file: String,
        what: String,
    },
}

impl ProcError {
    /// Classifies an error from reading `/proc/{pid}/{file}`.
    pub fn from_io(pid: i32, file: &str, e: io::Error) -> ProcError {
        match e.kind() {
            io::ErrorKind::NotFound => ProcError::Gone { pid },
            io::ErrorKind::PermissionDenied => ProcError::PermissionDenied {
                pid,
                file: file.to_string(),
            },
            _ if e.raw_os_error() == Some(libc::ESRCH) => ProcError::Gone { pid },
            _ => ProcError::Io {
                pid,
                file: file.to_string(),
                source: e,
            },
        }
    }

    /// The same for an error of the procfs crate, which already turns ENOENT and ESRCH into
    /// `NotFound` and EACCES into `PermissionDenied`.
    pub fn from_procfs(pid: i32, file: &str, e: procfs::ProcError) -> ProcError {
        match e {
            procfs::ProcError::NotFound(_) => ProcError::Gone { pid },
            procfs::ProcError::PermissionDenied(_) => ProcError::PermissionDenied {
                pid,
                file: file.to_string(),
            },
            procfs::ProcError::Io(e, _) => ProcError::from_io(pid, file, e),
            other => ProcError::Malformed {
                pid,
                file: file.to_string(),
                what: other.to_string(),
            },
        }
    }

    /// The same error, said of thread `tid` of process `pid`.
    pub fn of_thread(self, tid: i32) -> ProcError {
        match self {
            ProcError::Gone { pid } if pid != tid => ProcError::ThreadGone { pid, tid },
            other => other,
        }
    }

    /// The process or thread is no longer there (as opposed to hidden from us or broken).
    pub fn is_gone(&self) -> bool {
        matches!(self, ProcError::Gone { .. } | ProcError::ThreadGone { .. })
    }
}

impl From<ProcError> for io::Error {
    fn from(e: ProcError) -> io::Error {
        let kind = match &e {
            ProcError::Gone { .. } | ProcError::ThreadGone { .. } => io::ErrorKind::NotFound,
            ProcError::PermissionDenied { .. } => io::ErrorKind::PermissionDenied,
            ProcError::Io { source, .. } => source.kind(),
            ProcError::Malformed { .. } => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_values_become_what_they_mean() {
        let gone = ProcError::from_io(7, "stat", io::Error::from_raw_os_error(libc::ENOENT));
        assert!(matches!(gone, ProcError::Gone { pid: 7 }));
        assert_eq!(gone.to_string(), "process 7 has exited");
        let esrch = ProcError::from_io(7, "stat", io::Error::from_raw_os_error(libc::ESRCH));
        assert!(esrch.is_gone());
        let denied = ProcError::from_io(7, "syscall", io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(
            denied.to_string(),
            "permission denied reading /proc/7/syscall"
        );
        let other = ProcError::from_io(7, "maps", io::Error::from_raw_os_error(libc::EIO));
        assert!(matches!(other, ProcError::Io { .. }));
        assert_eq!(
            ProcError::Gone { pid: 7 }.of_thread(9).to_string(),
            "thread 9 of process 7 has exited"
        );
        assert!(matches!(
            ProcError::Gone { pid: 7 }.of_thread(7),
            ProcError::Gone { pid: 7 }
        ));
        let back: io::Error = ProcError::Gone { pid: 7 }.into();
        assert_eq!(back.kind(), io::ErrorKind::NotFound);
    }
}
