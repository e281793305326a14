//! Starting a program under the tracer, stopped before its first instruction.
//!
//! The child blocks on a pipe until the tracer thread has seized it, then execs; the exec is
//! reported as PTRACE_EVENT_EXEC, a stop before the new image runs anything. (PTRACE_TRACEME
//! would give a plain PTRACE_ATTACH-style tracee, without PTRACE_INTERRUPT or PTRACE_LISTEN.)
//! Between fork and exec the child only calls async-signal-safe functions: the tracer's process
//! is multithreaded and its allocator lock may be held by another thread at fork time.

use super::error::TraceError;
use super::LaunchStdio;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

fn resolve(program: &str) -> Result<PathBuf, TraceError> {
    let fail = |reason: String| TraceError::Launch {
        program: program.to_string(),
        reason,
    };
    let is_exec =
        |p: &Path| nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok() && p.is_file();
    if program.contains('/') {
        let p = PathBuf::from(program);
        return if is_exec(&p) {
            Ok(p)
        } else if p.exists() {
            Err(fail("not an executable file".into()))
        } else {
            Err(fail("no such file".into()))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| is_exec(p))
        .ok_or_else(|| fail("command not found in PATH".into()))
}

pub struct Child {
    pub pid: i32,
    /// Writing one byte (or closing) lets the child exec.
    go: std::os::fd::OwnedFd,
    /// Receives the errno of a failed exec; EOF means the exec happened.
    errno_rx: std::os::fd::OwnedFd,
}

pub fn fork_child(
    program: &str,
    args: &[String],
    stdio: &LaunchStdio,
) -> Result<Child, TraceError> {
    let path = resolve(program)?;
    let fail = |reason: String| TraceError::Launch {
        program: program.to_string(),
        reason,
    };
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|e| fail(e.to_string()))?;
    let mut c_args = vec![CString::new(program).map_err(|e| fail(e.to_string()))?];
    for a in args {
        c_args.push(CString::new(a.as_str()).map_err(|e| fail(e.to_string()))?);
    }
    let mut argv: Vec<*const libc::c_char> = c_args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let (null_in, out_file) = match stdio {
        LaunchStdio::Inherit => (None, None),
        LaunchStdio::Null => (
            Some(CString::from(c"/dev/null")),
            Some(CString::from(c"/dev/null")),
        ),
        LaunchStdio::File(p) => (
            Some(CString::from(c"/dev/null")),
            Some(CString::new(p.as_os_str().as_bytes()).map_err(|e| fail(e.to_string()))?),
        ),
    };
    let (go_rx, go_tx) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| TraceError::Os {
            op: "pipe2",
            errno: e,
        })?;
    let (err_rx, err_tx) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| TraceError::Os {
            op: "pipe2",
            errno: e,
        })?;
    use std::os::fd::AsRawFd;
    let (go_rx_fd, err_tx_fd) = (go_rx.as_raw_fd(), err_tx.as_raw_fd());
    // SAFETY: the child only calls async-signal-safe functions (read, open, dup2, sigprocmask,
    // execv, write, _exit) on memory prepared before the fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(TraceError::Os {
            op: "fork",
            errno: nix::errno::Errno::last(),
        });
    }
    if pid == 0 {
        // SAFETY: in the forked child, which has one thread and must not allocate or take a
        // lock: every call below is async-signal-safe, and every pointer (c_path, argv,
        // null_in, out_file, `b`, `e`) points at memory prepared before the fork or on
        // this stack. The child never returns from this block (execv or _exit).
        unsafe {
            let mut b = 0u8;
            while libc::read(go_rx_fd, (&mut b as *mut u8).cast(), 1) < 0
                && *libc::__errno_location() == libc::EINTR
            {}
            if let Some(inp) = &null_in {
                let fd = libc::open(inp.as_ptr(), libc::O_RDONLY);
                if fd >= 0 {
                    libc::dup2(fd, 0);
                }
            }
            if let Some(out) = &out_file {
                let fd = libc::open(
                    out.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND,
                    0o600,
                );
                if fd >= 0 {
                    libc::dup2(fd, 1);
                    libc::dup2(fd, 2);
                }
            }
            // A program starts with no signal blocked, whatever mask our thread had.
            super::wakeup::unblock_all_signals();
            libc::execv(c_path.as_ptr(), argv.as_ptr());
            let e: i32 = *libc::__errno_location();
            libc::write(err_tx_fd, (&e as *const i32).cast(), 4);
            libc::_exit(127);
        }
    }
    drop(go_rx);
    drop(err_tx);
    Ok(Child {
        pid,
        go: go_tx,
        errno_rx: err_rx,
    })
}

impl Child {
    /// Lets the seized child go on to exec.
    pub fn release(self) -> std::os::fd::OwnedFd {
        let _ = nix::unistd::write(&self.go, &[1u8]);
        drop(self.go);
        self.errno_rx
    }
}

/// After the child is gone without reaching exec: why exec failed.
pub fn exec_error(program: &str, errno_rx: &std::os::fd::OwnedFd) -> TraceError {
    let mut buf = [0u8; 4];
    let reason = match nix::unistd::read(errno_rx, &mut buf) {
        Ok(4) => nix::errno::Errno::from_raw(i32::from_ne_bytes(buf))
            .desc()
            .to_string(),
        _ => "the program exited before exec".into(),
    };
    TraceError::Launch {
        program: program.to_string(),
        reason,
    }
}
