//! What the workers hand the model about each thread: the kernel's view (from /proc, read while
//! the process runs) and a backtrace (unwound while it is stopped). Text is sanitised here, on
//! the worker side, so the model and the panes only ever hold terminal-safe strings.

use crate::procinfo::ThreadKernelView;
use crate::regs::Registers;
use crate::symbols::{Backtrace, UnwindStop};
use crate::text::clip;
use crate::text::sanitize;
use crate::tracer::thread::Tid;

/// One thread as the kernel last saw it running (never our own `t` stop).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelRow {
    pub state: char,
    pub wchan: Option<String>,
    /// `futex(0x7f.., FUTEX_WAIT_PRIVATE, 2, NULL)` when blocked in a system call.
    pub call: Option<String>,
    pub cpu_ms: u64,
}

impl KernelRow {
    pub fn from_view(v: &ThreadKernelView) -> Self {
        KernelRow {
            state: v.state,
            wchan: v.wchan.as_deref().map(sanitize),
            call: v.syscall.call().map(|c| sanitize(&c)),
            cpu_ms: v.cpu_ms,
        }
    }
}

/// `t` is the tracing stop, and the only tracer is us: such a reading says nothing about what
/// the thread was doing, so it never replaces an earlier one.
pub fn is_our_stop(state: char) -> bool {
    state == 't'
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtFrame {
    pub pc: u64,
    /// The stack pointer in this frame: for the frame below it, its CFA (where rsp is once it
    /// has returned here).
    pub sp: u64,
    /// `read+0x12`, or `libc.so.6+0x11ba5` without a symbol.
    pub function: String,
    /// File name of the module, empty for anonymous memory.
    pub module: String,
    /// `src/target/chain.rs:21` when DWARF knows it.
    pub source: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BacktraceView {
    /// The stop generation it was unwound in; the model drops answers from older ones.
    pub gen: u64,
    pub tid: Tid,
    pub frames: Vec<BtFrame>,
    /// Why the walk ended early, when it did (`unreadable stack`, `depth limit`).
    pub ended: Option<String>,
}

impl BacktraceView {
    pub fn from_backtrace(gen: u64, tid: Tid, bt: &Backtrace) -> Self {
        let frames = bt
            .frames
            .iter()
            .map(|f| {
                let l = &f.location;
                let module = l
                    .module
                    .as_deref()
                    .map(|m| sanitize(m.rsplit('/').next().unwrap_or(m)))
                    .unwrap_or_default();
                let function = match &l.function {
                    Some(func) if l.offset == 0 => sanitize(func),
                    Some(func) => format!("{}+{:#x}", sanitize(func), l.offset),
                    None if !module.is_empty() => format!("{module}+{:#x}", l.module_offset),
                    None => "??".to_string(),
                };
                let source = match (&l.file, l.line) {
                    (Some(file), Some(line)) => Some(format!("{}:{line}", sanitize(file))),
                    (Some(file), None) => Some(sanitize(file)),
                    _ => None,
                };
                BtFrame {
                    pc: f.pc,
                    sp: f.sp,
                    function,
                    module,
                    source,
                }
            })
            .collect();
        let ended = match bt.stop {
            UnwindStop::Outermost => None,
            UnwindStop::DepthLimit => Some("depth limit".into()),
            UnwindStop::UnmappedPc => Some("next pc unmapped".into()),
            UnwindStop::StackNotGrowing => Some("stack not growing".into()),
            UnwindStop::Cycle => Some("cycle".into()),
            UnwindStop::Unreadable => Some("unreadable stack".into()),
            UnwindStop::NoUnwindInfo => Some("no unwind info".into()),
        };
        BacktraceView {
            gen,
            tid,
            frames,
            ended,
        }
    }
}

/// A request for the symbol worker: unwind `tid` from these registers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnwindAsk {
    pub gen: u64,
    pub tid: Tid,
    pub regs: Registers,
}

/// Shortens a system call to `width` columns, keeping its name and as many leading arguments
/// as fit: long hex pointers first become `0x7f..`, then trailing arguments become `...`.
pub fn fit_call(call: &str, width: usize) -> String {
    if call.chars().count() <= width {
        return call.to_string();
    }
    let (name, args) = match call.split_once('(') {
        Some((n, rest)) => (n, rest.strip_suffix(')').unwrap_or(rest)),
        None => return clip(call, width),
    };
    let args: Vec<String> = args
        .split(", ")
        .map(|a| {
            if a.starts_with("0x") && a.chars().count() > 6 {
                format!("{}..", a.chars().take(4).collect::<String>())
            } else {
                a.to_string()
            }
        })
        .collect();
    for keep in (0..=args.len()).rev() {
        let mut shown: Vec<&str> = args[..keep].iter().map(String::as_str).collect();
        if keep < args.len() {
            shown.push("...");
        }
        let s = format!("{name}({})", shown.join(", "));
        if s.chars().count() <= width {
            return s;
        }
    }
    clip(name, width)
}

/// `850ms`, `12.3s`, `41m07s`: CPU time in at most 6 columns.
pub fn cpu_text(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 100_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else if ms < 6_000_000 {
        format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{}h", ms / 3_600_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_shrink_argument_by_argument() {
        let c = "futex(0x7f1c2a4b3910, FUTEX_WAIT_PRIVATE, 2, NULL)";
        assert_eq!(fit_call(c, 80), c);
        assert_eq!(fit_call(c, 40), "futex(0x7f.., FUTEX_WAIT_PRIVATE, ...)");
        assert_eq!(fit_call(c, 20), "futex(0x7f.., ...)");
        assert_eq!(fit_call(c, 10), "futex(...)");
        assert_eq!(fit_call(c, 4), "fut~");
        assert_eq!(fit_call("read(3, 0x7ffd5a3c1e00, 16)", 16), "read(3, ...)");
        assert_eq!(fit_call("pause()", 7), "pause()");
        assert_eq!(fit_call("weird", 3), "we~");
        for w in 0..60 {
            assert!(fit_call(c, w).chars().count() <= w, "width {w}");
        }
    }

    #[test]
    fn cpu_time_stays_short() {
        assert_eq!(cpu_text(0), "0ms");
        assert_eq!(cpu_text(999), "999ms");
        assert_eq!(cpu_text(12_345), "12.3s");
        assert_eq!(cpu_text(2_467_000), "41m07s");
        assert_eq!(cpu_text(90_000_000), "25h");
    }
}
