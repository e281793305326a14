//! What can stop `ptscope core`, each said in one line the user can act on.

use crate::tracer::TraceError;
use std::io;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum CoreError {
    /// Attaching or stopping failed (no such process, permission, already traced, ...).
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("cannot write {}: {source}", path.display())]
    Output { path: PathBuf, source: io::Error },
    #[error("cannot read {what} of process {pid}: {source}")]
    Proc {
        what: &'static str,
        pid: i32,
        source: io::Error,
    },
    #[error("process {0} exited while its core was being taken")]
    Exited(i32),
    #[error("no thread of process {0} stopped in time (all in uninterruptible sleep?)")]
    NothingStopped(i32),
    #[error("not enough memory for the copy: {0}")]
    OutOfMemory(io::Error),
    #[error("interrupted")]
    Interrupted,
    /// A broken promise inside ptscope (a bug), said rather than written into a bad file.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl CoreError {
    pub fn output(path: &std::path::Path, source: io::Error) -> Self {
        CoreError::Output {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn proc(what: &'static str, pid: i32) -> impl FnOnce(io::Error) -> Self {
        move |source| {
            if source.kind() == io::ErrorKind::NotFound {
                CoreError::Trace(TraceError::NoSuchProcess(pid))
            } else {
                CoreError::Proc { what, pid, source }
            }
        }
    }
}
