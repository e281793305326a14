//! What a prompt's text means: the `b`, `g` and `w` prompts' expressions (`crate::expr`),
//! evaluated on the symbol worker against the selected thread's registers, the session's
//! names, the process's symbols and, while the process is stopped, its memory. The `=` prompt
//! evaluates its expressions here too (`evaluate_lent`, used by `assign.rs`).
//!
//! One convenience on top of the language: a text of bare hex digits that means nothing else
//! (`7ffd5a3c1000`, as /proc/PID/maps prints addresses) is read as hex.

use crate::expr::{self, Env, ExprError, Width};
use crate::regs::Registers;
use crate::tracer::debugregs::WatchKind;
use crate::tracer::thread::Tid;
use std::collections::BTreeMap;

/// What the address is for, so the answer finds its way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    Breakpoint,
    /// A breakpoint with a condition, ignore count or log text (`b LOCATION if ...`): the
    /// text resolved is the location; the worker binds the rest into `rule`.
    BreakpointWith {
        spec: Box<crate::tracer::rules::spec::Spec>,
        rule: Option<Box<crate::tracer::HitRule>>,
    },
    MemoryAddress,
    /// The `w` prompt's address, with the options typed after it.
    Watchpoint {
        kind: WatchKind,
        len: Option<u8>,
    },
}

/// Everything the worker needs to evaluate a prompt, copied out of the model when Enter is
/// pressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveAsk {
    pub purpose: Purpose,
    pub text: String,
    /// The selected thread and its registers as of its last stop.
    pub tid: Option<Tid>,
    pub regs: Option<Registers>,
    /// Names the session knows besides the symbols (the demo's hot function).
    pub names: BTreeMap<String, u64>,
    /// Every thread is stopped, so memory holds still and none of our int3 bytes is in it:
    /// `*EXPR` may read it.
    pub at_rest: bool,
}

/// Reads `buf.len()` bytes at an address; returns how many it got.
pub type ReadFn<'a> = dyn Fn(u64, &mut [u8]) -> usize + 'a;

/// What an expression may see besides the symbols and memory: copied out of the model when
/// Enter is pressed.
#[derive(Clone, Copy, Debug)]
pub struct Lent<'a> {
    /// The selected thread's registers as of its last stop.
    pub regs: Option<&'a Registers>,
    /// Names the session knows besides the symbols.
    pub names: &'a BTreeMap<String, u64>,
    /// Every thread is stopped: `*EXPR` may read memory.
    pub at_rest: bool,
}

impl<'a> Lent<'a> {
    pub fn of(ask: &'a ResolveAsk) -> Self {
        Lent {
            regs: ask.regs.as_ref(),
            names: &ask.names,
            at_rest: ask.at_rest,
        }
    }
}

struct Scope<'a> {
    lent: Lent<'a>,
    symbols: Option<&'a dyn Env>,
    memory: Option<&'a ReadFn<'a>>,
}

impl Env for Scope<'_> {
    fn register(&self, name: &str) -> Option<Result<u64, ExprError>> {
        let i = Registers::index_of(name)?;
        Some(
            self.lent
                .regs
                .map(|r| r.0[i])
                .ok_or_else(|| ExprError::NoRegisters(name.to_string())),
        )
    }

    fn symbol(&self, module: Option<&str>, name: &str) -> Result<u64, ExprError> {
        if module.is_none() {
            if let Some(a) = self.lent.names.get(name) {
                return Ok(*a);
            }
        }
        match self.symbols {
            Some(s) => s.symbol(module, name),
            None => Err(ExprError::UnknownSymbol(name.to_string())),
        }
    }

    fn read(&self, addr: u64, width: Width) -> Result<u64, ExprError> {
        let n = width.bytes();
        let fail = |reason: &str| ExprError::Memory {
            addr,
            size: n as u8,
            reason: reason.to_string(),
        };
        let Some(read) = self.memory else {
            return Err(fail(if self.lent.at_rest {
                "the memory of the process cannot be opened"
            } else {
                "the process is running: press s to stop it first"
            }));
        };
        let mut buf = [0u8; 8];
        if read(addr, &mut buf[..n]) < n {
            return Err(fail("unreadable"));
        }
        Ok(u64::from_le_bytes(buf))
    }
}

/// The answer to `ask`. `symbols` is the process's symbol table (none without a symbol
/// worker); `memory` reads the process (only lent while it is at rest).
pub fn answer(
    ask: &ResolveAsk,
    symbols: Option<&dyn Env>,
    memory: Option<&ReadFn>,
) -> Result<u64, ExprError> {
    evaluate_lent(&ask.text, Lent::of(ask), symbols, memory)
}

/// `text` evaluated with what `lent` lends, the symbols and (at rest) memory.
pub fn evaluate_lent(
    text: &str,
    lent: Lent,
    symbols: Option<&dyn Env>,
    memory: Option<&ReadFn>,
) -> Result<u64, ExprError> {
    let scope = Scope {
        lent,
        symbols,
        memory,
    };
    expr::evaluate(text, &scope).or_else(|e| bare_hex(text).ok_or(e))
}

fn bare_hex(text: &str) -> Option<u64> {
    let t = text.trim();
    let hex = !t.is_empty() && t.chars().all(|c| c.is_ascii_hexdigit());
    hex.then(|| expr::parse_number(&format!("0x{t}")).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(text: &str, regs: Option<Registers>, at_rest: bool) -> ResolveAsk {
        let mut names = BTreeMap::new();
        names.insert("ptscope_demo_hot".to_string(), 0x5555_0000_1234);
        ResolveAsk {
            purpose: Purpose::MemoryAddress,
            text: text.into(),
            tid: Some(7),
            regs,
            names,
            at_rest,
        }
    }

    fn result(r: Result<u64, ExprError>) -> Result<u64, ExprError> {
        r
    }

    struct Libc;
    impl Env for Libc {
        fn symbol(&self, module: Option<&str>, name: &str) -> Result<u64, ExprError> {
            match (module, name) {
                (None | Some("libc"), "read") => Ok(0x7f00_0000_1000),
                _ => Err(ExprError::UnknownSymbol(name.into())),
            }
        }
    }

    #[test]
    fn expressions() {
        let mut regs = Registers::default();
        regs.set("rsp", 0x7ffd_0000_1000);
        regs.set("rip", 0x40_1136);
        let ok = [
            ("0x401136", 0x401136),
            ("0X401136", 0x401136),
            ("4198710", 4198710),
            ("rsp", 0x7ffd_0000_1000),
            ("RSP", 0x7ffd_0000_1000),
            ("rsp-0x40", 0x7ffd_0000_0fc0),
            ("rsp - 64", 0x7ffd_0000_0fc0),
            ("rip+0x10+1", 0x40_1147),
            ("ptscope_demo_hot", 0x5555_0000_1234),
            ("ptscope_demo_hot+4", 0x5555_0000_1238),
            ("deadbeef", 0xdead_beef),
            ("7ffd5a3c1000", 0x7ffd_5a3c_1000),
            ("  0x10  ", 0x10),
            ("libc!read+4", 0x7f00_0000_1004),
            ("read", 0x7f00_0000_1000),
        ];
        for (text, want) in ok {
            let got = result(answer(&ask(text, Some(regs), true), Some(&Libc), None));
            assert_eq!(got, Ok(want), "{text}");
        }
        for bad in [
            "",
            "rsp+",
            "rsp++1",
            "0xzz",
            "banana",
            "99999999999999999999999",
            "fffffffffffffffff",
        ] {
            let got = result(answer(&ask(bad, Some(regs), true), Some(&Libc), None));
            assert!(got.is_err(), "{bad:?} should fail: {got:?}");
        }
    }

    #[test]
    fn registers_need_a_stopped_thread() {
        let err = result(answer(&ask("rsp+8", None, false), None, None)).unwrap_err();
        assert_eq!(err, ExprError::NoRegisters("rsp".into()));
        assert!(err.to_string().contains("must be stopped"), "{err}");
        assert_eq!(
            result(answer(&ask("0x1000", None, false), None, None)),
            Ok(0x1000)
        );
    }

    #[test]
    fn memory_is_read_only_at_rest() {
        let mut regs = Registers::default();
        regs.set("rsp", 0x1000);
        // 0x1000.. holds 0x00, 0x01, ...; nothing is readable from 0x2000 on.
        let read = |addr: u64, buf: &mut [u8]| {
            let mut n = 0;
            for (i, b) in buf.iter_mut().enumerate() {
                let a = addr + i as u64;
                if a >= 0x2000 {
                    break;
                }
                *b = (a - 0x1000) as u8;
                n += 1;
            }
            n
        };
        let at_rest = ask("*(u32*)(rsp+4)", Some(regs), true);
        assert_eq!(result(answer(&at_rest, None, Some(&read))), Ok(0x0706_0504));
        let past = ask("*0x1ffc", Some(regs), true);
        assert!(matches!(
            result(answer(&past, None, Some(&read))),
            Err(ExprError::Memory { addr: 0x1ffc, size: 8, ref reason }) if reason == "unreadable"
        ));
        let running = ask("*rsp", Some(regs), false);
        let err = result(answer(&running, None, None)).unwrap_err();
        assert!(err.to_string().contains("press s"), "{err}");
    }
}
