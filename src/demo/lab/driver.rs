//! The lab program driven from another process, as the tests and the benchmarks do: start it,
//! read its READY line, send it commands and wait, always with a deadline, for the lines that
//! answer them. The process is killed and reaped when the driver is dropped (it is ours).

use super::{answer_word, Ready};
use crossbeam_channel::{unbounded, Receiver};
use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum LabError {
    #[error("cannot start the lab program {program}: {source}")]
    Start {
        program: String,
        #[source]
        source: io::Error,
    },
    #[error("the lab program printed no READY line within {0:?}")]
    NoReady(Duration),
    #[error("bad READY line {line:?}: {reason}")]
    BadReady { line: String, reason: String },
    #[error("cannot write to lab {pid}: {source}")]
    Write {
        pid: i32,
        #[source]
        source: io::Error,
    },
    #[error(
        "lab {pid} did not print {prefix:?} within {timeout:?} (printed instead: {skipped:?})"
    )]
    Silent {
        pid: i32,
        prefix: String,
        timeout: Duration,
        skipped: Vec<String>,
    },
    #[error("lab {pid} answered {line:?}, with no number after the first word")]
    BadAnswer { pid: i32, line: String },
}

pub struct Driver {
    pub child: Child,
    pub pid: i32,
    /// `ptscope_lab_hot` in the lab process.
    pub hot: u64,
    /// Its call counter, a u64.
    pub counter: u64,
    /// SIGUSR1 handler runs, a u64.
    pub usr1: u64,
    /// SIGALRM handler runs, a u64.
    pub alrm: u64,
    /// Read by the `peek` command only.
    pub peek: u64,
    /// `ptscope_lab_answer`, whose bytes tests rewrite.
    pub answer: u64,
    /// The `syscall` instruction that ends an `exit-thread` thread.
    pub exit: u64,
    /// The threads at READY: main, the idle ones, control.
    pub tids: Vec<i32>,
    /// How long `wait_line` and `command` wait for an answer.
    pub timeout: Duration,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Driver {
    /// Starts `program` (a ptscope binary) as `__demo lab` with `threads` idle threads besides
    /// main and control, and waits up to `timeout` for it to be ready.
    pub fn start(
        program: impl AsRef<OsStr>,
        threads: usize,
        timeout: Duration,
    ) -> Result<Driver, LabError> {
        let program = program.as_ref();
        let start_error = |source| LabError::Start {
            program: program.to_string_lossy().into_owned(),
            source,
        };
        // A target like any program, whatever mask the thread starting it has.
        let mut child = crate::tracer::with_empty_signal_mask(&mut Command::new(program))
            .args(["__demo", "lab", "--threads", &threads.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(start_error)?;
        // Both are there: they were asked for as pipes.
        let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(start_error(io::Error::other("no stdin or stdout pipe")));
        };
        let (tx, rx) = unbounded();
        let reader = std::thread::Builder::new()
            .name("lab-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        let ready = reader
            .map_err(start_error)
            .and_then(|_| {
                rx.recv_timeout(timeout)
                    .map_err(|_| LabError::NoReady(timeout))
            })
            .and_then(|line| parse_ready(&line));
        let ready = match ready {
            Ok(r) => r,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        Ok(Driver {
            child,
            pid: ready.pid,
            hot: ready.hot,
            counter: ready.counter,
            usr1: ready.usr1,
            alrm: ready.alrm,
            peek: ready.peek,
            answer: ready.answer,
            exit: ready.exit,
            tids: ready.tids,
            timeout,
            stdin,
            lines: rx,
        })
    }

    pub fn send(&mut self, line: &str) -> Result<(), LabError> {
        let pid = self.pid;
        writeln!(self.stdin, "{line}")
            .and_then(|()| self.stdin.flush())
            .map_err(|source| LabError::Write { pid, source })
    }

    /// The next line that starts with `prefix`, within the driver's timeout; lines before it
    /// are dropped.
    pub fn wait_line(&self, prefix: &str) -> Result<String, LabError> {
        self.wait_line_within(prefix, self.timeout)
    }

    pub fn wait_line_within(&self, prefix: &str, timeout: Duration) -> Result<String, LabError> {
        let deadline = Instant::now() + timeout;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return Ok(l),
                Ok(l) => skipped.push(l),
                Err(_) => {
                    return Err(LabError::Silent {
                        pid: self.pid,
                        prefix: prefix.to_string(),
                        timeout,
                        skipped,
                    })
                }
            }
        }
    }

    /// A line starting with `prefix` if one has come already, without waiting.
    pub fn poll_line(&self, prefix: &str) -> Option<String> {
        self.lines.try_iter().find(|l| l.starts_with(prefix))
    }

    /// Sends `cmd` and returns the number its answer carries: the new thread's tid for
    /// `spawn`, `hot`, `churn`, `exit-thread`, the child's pid for `fork`, a count for
    /// `calls`, `storm` and `signals`.
    pub fn command(&mut self, cmd: &str) -> Result<i64, LabError> {
        self.send(cmd)?;
        let line = self.wait_line(&format!("{} ", answer_word(cmd)))?;
        line.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .ok_or(LabError::BadAnswer {
                pid: self.pid,
                line,
            })
    }

    /// `command` for the commands that answer with a thread id.
    pub fn command_tid(&mut self, cmd: &str) -> Result<i32, LabError> {
        let pid = self.pid;
        let n = self.command(cmd)?;
        i32::try_from(n).map_err(|_| LabError::BadAnswer {
            pid,
            line: format!("{} {n}", answer_word(cmd)),
        })
    }

    /// How many times the hot function has run: an answer proves the process runs on.
    pub fn calls(&mut self) -> Result<u64, LabError> {
        let n = self.command("calls")?;
        u64::try_from(n).map_err(|_| LabError::BadAnswer {
            pid: self.pid,
            line: format!("calls {n}"),
        })
    }
}

fn parse_ready(line: &str) -> Result<Ready, LabError> {
    let bad = |reason: String| LabError::BadReady {
        line: line.to_string(),
        reason,
    };
    let json = line
        .strip_prefix("READY ")
        .ok_or_else(|| bad("no READY prefix".into()))?;
    serde_json::from_str(json).map_err(|e| bad(e.to_string()))
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The lab process is ours: kill it on purpose.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_line_reads_back_what_the_program_writes() {
        let ready = Ready {
            pid: 42,
            hot: 0x55d0_c0a0_1139,
            counter: 0x55d0_c0c0_0010,
            usr1: 0x55d0_c0c0_0018,
            alrm: 0x55d0_c0c0_0008,
            peek: 0x55d0_c0c0_0020,
            answer: 0x55d0_c0a0_1200,
            exit: 0x55d0_c0a0_1245,
            tids: vec![42, 43, 44],
        };
        let line = format!("READY {}", serde_json::to_string(&ready).unwrap());
        assert_eq!(
            line,
            "READY {\"pid\":42,\"hot\":\"0x55d0c0a01139\",\"counter\":\"0x55d0c0c00010\",\
             \"usr1\":\"0x55d0c0c00018\",\"alrm\":\"0x55d0c0c00008\",\"peek\":\"0x55d0c0c00020\",\"answer\":\"0x55d0c0a01200\",\
             \"exit\":\"0x55d0c0a01245\",\"tids\":[42,43,44]}"
        );
        assert_eq!(parse_ready(&line).unwrap(), ready);
        assert!(matches!(
            parse_ready("READY {\"pid\":1}"),
            Err(LabError::BadReady { .. })
        ));
        let bad_hex = line.replace("0x55d0c0a01139", "55d0c0a01139");
        assert!(parse_ready(&bad_hex).is_err());
        assert!(parse_ready("hello").is_err());
    }

    #[test]
    fn answers_are_named_by_the_commands_they_answer() {
        assert_eq!(answer_word("spawn evil"), "spawned");
        assert_eq!(answer_word("exit-thread 7"), "exiting");
        assert_eq!(answer_word("hot"), "hot");
        assert_eq!(answer_word("storm 10"), "storm");
        assert_eq!(answer_word("int3"), "after-int3");
    }
}
