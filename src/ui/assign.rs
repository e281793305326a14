//! What an `=` prompt's text means: an assignment to a register of the selected thread or to
//! memory, parsed when Enter is pressed (`parse`, pure, so a typo is reported at once), then
//! its expressions worked out on the symbol worker (`evaluate`) like the other prompts'.
//!
//! ```text
//! rax = 0x10                 a register of the selected thread; the value is an expression
//! rip = some_function
//! *rsp+8 = 0                 8 bytes, little-endian, at the address rsp+8 (the `*` covers
//! *counter = 7               the whole left side)
//! *(u32*)ADDR = 7            4 bytes (u8, u16, u32, u64)
//! *ADDR = "text\n"           the bytes of the text: escapes \n \t \r \0 \\ \" \xNN
//! *ADDR = de ad be ef        these bytes (two or more pairs of hex digits)
//! ```

use super::resolve::{self, Lent, ReadFn};
use crate::expr::{Env, ExprError, Width};
use crate::regs::Registers;
use crate::tracer::thread::Tid;
use std::collections::BTreeMap;
use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A register name, lowercase.
    Register(String),
    /// An address expression; `width` from a `*(uN*)` cast.
    Memory { addr: String, width: Option<Width> },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An expression, worked out to a number.
    Expr(String),
    /// Text or a byte list, written as is.
    Bytes(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub target: Target,
    pub value: Value,
}

/// The write an assignment comes to once its expressions are worked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    Register { tid: Tid, name: String, value: u64 },
    Memory { addr: u64, bytes: Vec<u8> },
}

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum AssignError {
    #[error("write TARGET = VALUE: rax = 0x10, *ADDR = 7, *(u32*)ADDR = 7, *ADDR = \"text\", *ADDR = de ad")]
    NoAssignment,
    #[error("nothing to the right of =")]
    NoValue,
    #[error("`{0}` is not a register (write *ADDR = VALUE to change memory)")]
    NotRegister(String),
    #[error("a register takes a number, not text or bytes")]
    BytesIntoRegister,
    #[error("a cast gives the width of a number; text and bytes are written as they are")]
    CastWithBytes,
    #[error("{value:#x} does not fit in {width} bytes")]
    TooWide { value: u64, width: usize },
    #[error("text: {0}")]
    BadText(String),
    #[error("no thread selected: select the thread whose register to change")]
    NoThread,
    #[error(transparent)]
    Expr(#[from] ExprError),
}

/// Everything the worker needs to work an assignment out, copied out of the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditAsk {
    /// What the user typed.
    pub text: String,
    pub assignment: Assignment,
    pub tid: Option<Tid>,
    pub regs: Option<Registers>,
    pub names: BTreeMap<String, u64>,
    pub at_rest: bool,
}

/// The `=` that assigns: not part of `==`, `!=`, `<=` or `>=`.
fn assigning_equals(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    (0..b.len()).find(|&i| {
        b[i] == b'='
            && b.get(i + 1) != Some(&b'=')
            && !(i > 0 && matches!(b[i - 1], b'=' | b'!' | b'<' | b'>'))
    })
}

pub fn parse(text: &str) -> Result<Assignment, AssignError> {
    let eq = assigning_equals(text).ok_or(AssignError::NoAssignment)?;
    let (left, right) = (text[..eq].trim(), text[eq + 1..].trim());
    if left.is_empty() {
        return Err(AssignError::NoAssignment);
    }
    if right.is_empty() {
        return Err(AssignError::NoValue);
    }
    let target = match left.strip_prefix('*') {
        Some(rest) => {
            let (width, addr) = cast(rest.trim_start());
            if addr.trim().is_empty() {
                return Err(AssignError::Expr(ExprError::Empty));
            }
            Target::Memory {
                addr: addr.trim().to_string(),
                width,
            }
        }
        None => match Registers::index_of(left) {
            Some(i) => Target::Register(crate::regs::REGISTER_NAMES[i].to_string()),
            None => return Err(AssignError::NotRegister(left.to_string())),
        },
    };
    let value = if right.starts_with('"') {
        Value::Bytes(text_bytes(right)?)
    } else if let Some(bytes) = byte_list(right) {
        Value::Bytes(bytes)
    } else {
        Value::Expr(right.to_string())
    };
    match (&target, &value) {
        (Target::Register(_), Value::Bytes(_)) => Err(AssignError::BytesIntoRegister),
        (Target::Memory { width: Some(_), .. }, Value::Bytes(_)) => Err(AssignError::CastWithBytes),
        _ => Ok(Assignment { target, value }),
    }
}

/// `(u32*)rest` -> (Some(U32), "rest"); anything else is an address as it stands.
fn cast(s: &str) -> (Option<Width>, &str) {
    let Some(inner) = s.strip_prefix('(') else {
        return (None, s);
    };
    let Some(close) = inner.find(')') else {
        return (None, s);
    };
    let Some(ty) = inner[..close].trim().strip_suffix('*') else {
        return (None, s);
    };
    let width = match ty.trim() {
        "u8" => Width::U8,
        "u16" => Width::U16,
        "u32" => Width::U32,
        "u64" => Width::U64,
        _ => return (None, s),
    };
    (Some(width), &inner[close + 1..])
}

/// Two or more pairs of hex digits: `de ad be ef`.
fn byte_list(s: &str) -> Option<Vec<u8>> {
    let words: Vec<&str> = s.split_whitespace().collect();
    if words.len() < 2 {
        return None;
    }
    words
        .iter()
        .map(|w| {
            (w.len() == 2 && w.chars().all(|c| c.is_ascii_hexdigit()))
                .then(|| u8::from_str_radix(w, 16).ok())
                .flatten()
        })
        .collect()
}

/// A quoted text with escapes, nothing after the closing quote.
fn text_bytes(s: &str) -> Result<Vec<u8>, AssignError> {
    let bad = |why: &str| AssignError::BadText(why.to_string());
    let mut chars = s.strip_prefix('"').unwrap_or(s).chars();
    let mut out = Vec::new();
    loop {
        let c = chars.next().ok_or_else(|| bad("no closing \""))?;
        match c {
            '"' => break,
            '\\' => {
                let e = chars.next().ok_or_else(|| bad("a \\ at the end"))?;
                match e {
                    'n' => out.push(b'\n'),
                    't' => out.push(b'\t'),
                    'r' => out.push(b'\r'),
                    '0' => out.push(0),
                    '\\' => out.push(b'\\'),
                    '"' => out.push(b'"'),
                    'x' => {
                        let hex: String = chars.by_ref().take(2).collect();
                        let b = (hex.len() == 2)
                            .then(|| u8::from_str_radix(&hex, 16).ok())
                            .flatten()
                            .ok_or_else(|| bad("\\x takes two hex digits"))?;
                        out.push(b);
                    }
                    other => return Err(bad(&format!("unknown escape \\{other}"))),
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    if !chars.as_str().trim().is_empty() {
        return Err(bad("something after the closing \""));
    }
    if out.is_empty() {
        return Err(bad("nothing to write"));
    }
    Ok(out)
}

/// `value` as `width` little-endian bytes, if it fits: unsigned, or a negative number in two's
/// complement (`-1` in 4 bytes is ff ff ff ff).
fn to_width(value: u64, width: usize) -> Result<Vec<u8>, AssignError> {
    let bits = 8 * width as u32;
    let fits = width >= 8 || value >> bits == 0 || ((value as i64) >> (bits - 1)) == -1;
    if !fits {
        return Err(AssignError::TooWide { value, width });
    }
    Ok(value.to_le_bytes()[..width.min(8)].to_vec())
}

/// The assignment's expressions worked out: the write to make.
pub fn evaluate(
    ask: &EditAsk,
    symbols: Option<&dyn Env>,
    memory: Option<&ReadFn>,
) -> Result<Edit, AssignError> {
    let lent = Lent {
        regs: ask.regs.as_ref(),
        names: &ask.names,
        at_rest: ask.at_rest,
    };
    let eval = |text: &str| resolve::evaluate_lent(text, lent, symbols, memory);
    let a = &ask.assignment;
    match &a.target {
        Target::Register(name) => {
            let tid = ask.tid.ok_or(AssignError::NoThread)?;
            let Value::Expr(v) = &a.value else {
                return Err(AssignError::BytesIntoRegister);
            };
            Ok(Edit::Register {
                tid,
                name: name.clone(),
                value: eval(v)?,
            })
        }
        Target::Memory { addr, width } => {
            let addr = eval(addr)?;
            let bytes = match &a.value {
                Value::Bytes(b) => b.clone(),
                Value::Expr(v) => to_width(eval(v)?, width.map_or(8, |w| w.bytes()))?,
            };
            Ok(Edit::Memory { addr, bytes })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mem(addr: &str, width: Option<Width>, value: Value) -> Assignment {
        Assignment {
            target: Target::Memory {
                addr: addr.into(),
                width,
            },
            value,
        }
    }

    #[test]
    fn parses_every_form() {
        let reg = |n: &str, v: &str| Assignment {
            target: Target::Register(n.into()),
            value: Value::Expr(v.into()),
        };
        let expr = |v: &str| Value::Expr(v.into());
        let cases = [
            ("rax = 0x10", reg("rax", "0x10")),
            ("RIP=some_function", reg("rip", "some_function")),
            ("rax = rbx == 1", reg("rax", "rbx == 1")),
            ("rdi = rsi >= 2", reg("rdi", "rsi >= 2")),
            ("*rsp+8 = 0", mem("rsp+8", None, expr("0"))),
            ("*counter = 7", mem("counter", None, expr("7"))),
            (
                "*(u32*)counter = 7",
                mem("counter", Some(Width::U32), expr("7")),
            ),
            (
                "* ( u16 * ) (rsp+2) = -1",
                mem("(rsp+2)", Some(Width::U16), expr("-1")),
            ),
            ("*(rsp+8) = 1", mem("(rsp+8)", None, expr("1"))),
            (
                "*buf = \"hi\\n\\t\\\\\\\"\\x41\\0\"",
                mem("buf", None, Value::Bytes(b"hi\n\t\\\"A\0".to_vec())),
            ),
            (
                "*0x1000 = de ad be ef",
                mem("0x1000", None, Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef])),
            ),
            // One pair is a number (write one byte with *(u8*)).
            ("*0x1000 = ff", mem("0x1000", None, expr("ff"))),
            (
                "*x = \"é\"",
                mem("x", None, Value::Bytes("é".as_bytes().to_vec())),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad_assignments_say_why() {
        let cases: [(&str, AssignError); 10] = [
            ("rax", AssignError::NoAssignment),
            ("rax == 1", AssignError::NoAssignment),
            ("= 5", AssignError::NoAssignment),
            ("rax =", AssignError::NoValue),
            ("eax = 1", AssignError::NotRegister("eax".into())),
            ("counter = 1", AssignError::NotRegister("counter".into())),
            ("rax = \"x\"", AssignError::BytesIntoRegister),
            ("*(u32*)x = de ad", AssignError::CastWithBytes),
            ("*x = \"abc", AssignError::BadText("no closing \"".into())),
            (
                "*x = \"a\\q\"",
                AssignError::BadText("unknown escape \\q".into()),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Err(want), "{text}");
        }
        assert!(matches!(
            parse("*x = \"a\" b"),
            Err(AssignError::BadText(_))
        ));
        assert!(matches!(
            parse("*x = \"\\x4\""),
            Err(AssignError::BadText(_))
        ));
        assert!(matches!(parse("*x = \"\""), Err(AssignError::BadText(_))));
        assert_eq!(parse("* = 1"), Err(AssignError::Expr(ExprError::Empty)));
        for e in [
            AssignError::NoAssignment,
            AssignError::NotRegister("eax".into()),
        ] {
            assert_eq!(e.to_string().lines().count(), 1);
        }
    }

    #[test]
    fn widths_take_unsigned_and_negative_numbers() {
        assert_eq!(to_width(7, 8), Ok(vec![7, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(to_width(0x1234, 2), Ok(vec![0x34, 0x12]));
        assert_eq!(to_width(u64::MAX, 4), Ok(vec![0xff; 4]), "-1");
        assert_eq!(
            to_width(0xffff_ff80u64 | 0xffff_ffff_0000_0000, 1),
            Ok(vec![0x80])
        );
        assert_eq!(
            to_width(0x1_0000_0000, 4),
            Err(AssignError::TooWide {
                value: 0x1_0000_0000,
                width: 4
            })
        );
        assert_eq!(
            to_width(0x100, 1),
            Err(AssignError::TooWide {
                value: 0x100,
                width: 1
            })
        );
    }

    struct Syms;
    impl Env for Syms {
        fn symbol(&self, _: Option<&str>, name: &str) -> Result<u64, ExprError> {
            match name {
                "counter" => Ok(0x5000),
                "some_function" => Ok(0x40_1000),
                other => Err(ExprError::UnknownSymbol(other.into())),
            }
        }
    }

    fn ask(text: &str, tid: Option<Tid>) -> EditAsk {
        let mut regs = Registers::default();
        regs.set("rsp", 0x7ffd_0000);
        EditAsk {
            text: text.into(),
            assignment: parse(text).unwrap(),
            tid,
            regs: Some(regs),
            names: BTreeMap::new(),
            at_rest: true,
        }
    }

    #[test]
    fn evaluates_to_the_write() {
        let run = |text: &str| evaluate(&ask(text, Some(7)), Some(&Syms), None);
        assert_eq!(
            run("rip = some_function+4"),
            Ok(Edit::Register {
                tid: 7,
                name: "rip".into(),
                value: 0x40_1004
            })
        );
        assert_eq!(
            run("*rsp+8 = 0"),
            Ok(Edit::Memory {
                addr: 0x7ffd_0008,
                bytes: vec![0; 8]
            })
        );
        assert_eq!(
            run("*(u32*)counter = 7"),
            Ok(Edit::Memory {
                addr: 0x5000,
                bytes: vec![7, 0, 0, 0]
            })
        );
        assert_eq!(
            run("*counter = \"ok\""),
            Ok(Edit::Memory {
                addr: 0x5000,
                bytes: b"ok".to_vec()
            })
        );
        assert_eq!(
            run("*(u8*)counter = 256"),
            Err(AssignError::TooWide {
                value: 256,
                width: 1
            })
        );
        assert_eq!(
            run("rax = nosuch"),
            Err(AssignError::Expr(ExprError::UnknownSymbol("nosuch".into())))
        );
        assert_eq!(
            evaluate(&ask("rax = 1", None), Some(&Syms), None),
            Err(AssignError::NoThread)
        );
    }
}
