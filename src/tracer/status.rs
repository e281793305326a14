//! Decoding a raw wait status into the stop kinds ptrace(2) names.
//!
//! Kept free of system calls so that every branch can be unit tested from numbers.

use super::signals::{is_stop_signal, signal_name};
use serde::Serialize;
use std::fmt;

pub const PTRACE_EVENT_FORK: i32 = 1;
pub const PTRACE_EVENT_VFORK: i32 = 2;
pub const PTRACE_EVENT_CLONE: i32 = 3;
pub const PTRACE_EVENT_EXEC: i32 = 4;
pub const PTRACE_EVENT_VFORK_DONE: i32 = 5;
pub const PTRACE_EVENT_EXIT: i32 = 6;
pub const PTRACE_EVENT_STOP: i32 = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PtraceEvent {
    Fork,
    Vfork,
    Clone,
    Exec,
    VforkDone,
    Exit,
}

impl PtraceEvent {
    fn from_code(code: i32) -> Option<Self> {
        Some(match code {
            PTRACE_EVENT_FORK => Self::Fork,
            PTRACE_EVENT_VFORK => Self::Vfork,
            PTRACE_EVENT_CLONE => Self::Clone,
            PTRACE_EVENT_EXEC => Self::Exec,
            PTRACE_EVENT_VFORK_DONE => Self::VforkDone,
            PTRACE_EVENT_EXIT => Self::Exit,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Fork => "PTRACE_EVENT_FORK",
            Self::Vfork => "PTRACE_EVENT_VFORK",
            Self::Clone => "PTRACE_EVENT_CLONE",
            Self::Exec => "PTRACE_EVENT_EXEC",
            Self::VforkDone => "PTRACE_EVENT_VFORK_DONE",
            Self::Exit => "PTRACE_EVENT_EXIT",
        }
    }
}

/// One wait status, as the kernel reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WaitStatus {
    /// WIFEXITED: the thread is gone with this code.
    Exited { code: i32 },
    /// WIFSIGNALED: the thread was killed by this signal.
    Killed { sig: i32, core: bool },
    /// A signal is about to be delivered; the tracer may pass it on, change it or drop it.
    SignalDeliveryStop { sig: i32 },
    /// PTRACE_EVENT_STOP with a stopping signal: the whole group is in a job-control stop.
    GroupStop { sig: i32 },
    /// PTRACE_EVENT_STOP with SIGTRAP: PTRACE_INTERRUPT, the first stop of an auto-attached
    /// thread, or a notification that a group-stop ended.
    InterruptStop,
    /// SIGTRAP | event << 8 for the PTRACE_O_TRACE* options.
    EventStop { event: PtraceEvent },
    /// SIGTRAP | 0x80 with PTRACE_O_TRACESYSGOOD (ptscope does not ask for it).
    SyscallStop,
    /// A status no kernel we know produces.
    Unknown,
}

impl WaitStatus {
    pub fn decode(raw: i32) -> Self {
        let low = raw & 0x7f;
        if low == 0 {
            return Self::Exited {
                code: (raw >> 8) & 0xff,
            };
        }
        if (raw & 0xff) == 0x7f {
            let sig = (raw >> 8) & 0xff;
            let event = (raw >> 16) & 0xffff;
            if event == PTRACE_EVENT_STOP {
                return if is_stop_signal(sig) {
                    Self::GroupStop { sig }
                } else {
                    Self::InterruptStop
                };
            }
            if event != 0 {
                return match PtraceEvent::from_code(event) {
                    Some(event) if sig == libc::SIGTRAP => Self::EventStop { event },
                    _ => Self::Unknown,
                };
            }
            if sig == libc::SIGTRAP | 0x80 {
                return Self::SyscallStop;
            }
            return Self::SignalDeliveryStop { sig };
        }
        if low != 0x7f {
            return Self::Killed {
                sig: low,
                core: raw & 0x80 != 0,
            };
        }
        Self::Unknown
    }
}

/// A raw status with its decoding, shown in the event log so a reader can check the bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RawStatus {
    pub raw: i32,
    pub decoded: WaitStatus,
}

impl RawStatus {
    pub fn new(raw: i32) -> Self {
        RawStatus {
            raw,
            decoded: WaitStatus::decode(raw),
        }
    }
}

impl fmt::Display for RawStatus {
    /// The way a reader of ptrace(2) would write the status: `SIGTRAP | PTRACE_EVENT_CLONE<<8`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = self.raw;
        match self.decoded {
            WaitStatus::Exited { code } => write!(f, "WIFEXITED code {code}"),
            WaitStatus::Killed { sig, core } => {
                write!(f, "WIFSIGNALED {}", signal_name(sig))?;
                if core {
                    write!(f, " (core dumped)")?;
                }
                Ok(())
            }
            WaitStatus::SignalDeliveryStop { sig } => {
                write!(f, "WIFSTOPPED {} (signal-delivery-stop)", signal_name(sig))
            }
            WaitStatus::GroupStop { sig } => {
                write!(
                    f,
                    "{} | PTRACE_EVENT_STOP<<8 (group-stop)",
                    signal_name(sig)
                )
            }
            WaitStatus::InterruptStop => write!(f, "SIGTRAP | PTRACE_EVENT_STOP<<8"),
            WaitStatus::EventStop { event } => write!(f, "SIGTRAP | {}<<8", event.name()),
            WaitStatus::SyscallStop => write!(f, "SIGTRAP|0x80 (syscall-stop)"),
            WaitStatus::Unknown => write!(f, "unknown status {raw:#x}"),
        }
    }
}

/// How a thread or process ended; also the payload of PTRACE_EVENT_EXIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExitKind {
    Code { code: i32 },
    Signal { sig: i32 },
}

impl ExitKind {
    /// PTRACE_GETEVENTMSG at PTRACE_EVENT_EXIT holds the status the thread will exit with,
    /// in wait-status form.
    pub fn from_wait_status(raw: i32) -> Self {
        match WaitStatus::decode(raw) {
            WaitStatus::Killed { sig, .. } => ExitKind::Signal { sig },
            WaitStatus::Exited { code } => ExitKind::Code { code },
            _ => ExitKind::Code {
                code: (raw >> 8) & 0xff,
            },
        }
    }
}

impl fmt::Display for ExitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitKind::Code { code } => write!(f, "{code}"),
            ExitKind::Signal { sig } => write!(f, "{}", signal_name(*sig)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stopped(sig: i32, event: i32) -> i32 {
        (event << 16) | (sig << 8) | 0x7f
    }

    #[test]
    fn exits_and_kills() {
        assert_eq!(WaitStatus::decode(3 << 8), WaitStatus::Exited { code: 3 });
        assert_eq!(WaitStatus::decode(0), WaitStatus::Exited { code: 0 });
        assert_eq!(
            WaitStatus::decode(libc::SIGKILL),
            WaitStatus::Killed {
                sig: libc::SIGKILL,
                core: false
            }
        );
        assert_eq!(
            WaitStatus::decode(libc::SIGSEGV | 0x80),
            WaitStatus::Killed {
                sig: libc::SIGSEGV,
                core: true
            }
        );
    }

    #[test]
    fn stops_named_as_ptrace_names_them() {
        let cases = [
            (
                stopped(libc::SIGUSR1, 0),
                WaitStatus::SignalDeliveryStop { sig: libc::SIGUSR1 },
            ),
            (
                stopped(libc::SIGTRAP, 0),
                WaitStatus::SignalDeliveryStop { sig: libc::SIGTRAP },
            ),
            (stopped(libc::SIGTRAP, 128), WaitStatus::InterruptStop),
            (
                stopped(libc::SIGSTOP, 128),
                WaitStatus::GroupStop { sig: libc::SIGSTOP },
            ),
            (
                stopped(libc::SIGTSTP, 128),
                WaitStatus::GroupStop { sig: libc::SIGTSTP },
            ),
            (
                stopped(libc::SIGTRAP, 3),
                WaitStatus::EventStop {
                    event: PtraceEvent::Clone,
                },
            ),
            (
                stopped(libc::SIGTRAP, 6),
                WaitStatus::EventStop {
                    event: PtraceEvent::Exit,
                },
            ),
            (
                stopped(libc::SIGTRAP, 4),
                WaitStatus::EventStop {
                    event: PtraceEvent::Exec,
                },
            ),
            (
                stopped(libc::SIGTRAP, 1),
                WaitStatus::EventStop {
                    event: PtraceEvent::Fork,
                },
            ),
            (
                stopped(libc::SIGTRAP, 2),
                WaitStatus::EventStop {
                    event: PtraceEvent::Vfork,
                },
            ),
            (
                stopped(libc::SIGTRAP, 5),
                WaitStatus::EventStop {
                    event: PtraceEvent::VforkDone,
                },
            ),
            (stopped(libc::SIGTRAP | 0x80, 0), WaitStatus::SyscallStop),
            (stopped(libc::SIGTRAP, 77), WaitStatus::Unknown),
            // WIFCONTINUED: only reported with WCONTINUED, which the tracer never asks for.
            (0xffff, WaitStatus::Unknown),
        ];
        for (raw, want) in cases {
            assert_eq!(WaitStatus::decode(raw), want, "raw {raw:#x}");
        }
    }

    #[test]
    fn display_reads_like_the_man_page() {
        assert_eq!(
            RawStatus::new(stopped(libc::SIGTRAP, 3)).to_string(),
            "SIGTRAP | PTRACE_EVENT_CLONE<<8"
        );
        assert_eq!(
            RawStatus::new(stopped(libc::SIGSTOP, 128)).to_string(),
            "SIGSTOP | PTRACE_EVENT_STOP<<8 (group-stop)"
        );
        assert_eq!(RawStatus::new(7 << 8).to_string(), "WIFEXITED code 7");
    }

    #[test]
    fn exit_event_payload() {
        assert_eq!(
            ExitKind::from_wait_status(7 << 8),
            ExitKind::Code { code: 7 }
        );
        assert_eq!(
            ExitKind::from_wait_status(libc::SIGKILL),
            ExitKind::Signal { sig: libc::SIGKILL }
        );
        assert_eq!(ExitKind::Signal { sig: 9 }.to_string(), "SIGKILL");
    }
}
