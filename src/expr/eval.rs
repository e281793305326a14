//! Evaluation against what the caller can see: registers, symbols, memory.

use super::ast::{BinOp, Expr, UnOp, Width};
use super::lexer::module_prefix;
use super::parser::parse;
use super::ExprError;

/// What an expression may refer to. The UI lends a stopped thread's registers and the
/// process's symbols; `Symbolizer::resolve` lends symbols alone.
pub trait Env {
    /// The value of register `name`; `None` when no register has that name, so the name is a
    /// symbol.
    fn register(&self, name: &str) -> Option<Result<u64, ExprError>> {
        let _ = name;
        None
    }

    /// The address of a symbol, in one module or in any.
    fn symbol(&self, module: Option<&str>, name: &str) -> Result<u64, ExprError>;

    /// `width` bytes at `addr`, little-endian.
    fn read(&self, addr: u64, width: Width) -> Result<u64, ExprError> {
        Err(ExprError::Memory {
            addr,
            size: width.bytes() as u8,
            reason: "memory is not readable here".into(),
        })
    }
}

fn flag(b: bool) -> u64 {
    u64::from(b)
}

pub fn eval<E: Env + ?Sized>(e: &Expr, env: &E) -> Result<u64, ExprError> {
    Ok(match e {
        Expr::Num(n) => *n,
        Expr::Name(n) => {
            let reg = if n.is_plain() {
                env.register(&n.name)
            } else {
                None
            };
            match reg {
                Some(v) => v?,
                None => env.symbol(n.module.as_deref(), &n.name)?,
            }
        }
        Expr::Unary(op, x) => {
            let x = eval(x, env)?;
            match op {
                UnOp::Neg => x.wrapping_neg(),
                UnOp::BitNot => !x,
                UnOp::Not => flag(x == 0),
            }
        }
        Expr::Deref(width, addr) => env.read(eval(addr, env)?, *width)?,
        Expr::Binary(BinOp::And, a, b) => flag(eval(a, env)? != 0 && eval(b, env)? != 0),
        Expr::Binary(BinOp::Or, a, b) => flag(eval(a, env)? != 0 || eval(b, env)? != 0),
        Expr::Binary(op, a, b) => {
            let (a, b) = (eval(a, env)?, eval(b, env)?);
            match op {
                BinOp::Add => a.wrapping_add(b),
                BinOp::Sub => a.wrapping_sub(b),
                BinOp::Mul => a.wrapping_mul(b),
                BinOp::Div => a.checked_div(b).ok_or(ExprError::DivideByZero)?,
                BinOp::Rem => a.checked_rem(b).ok_or(ExprError::DivideByZero)?,
                BinOp::Shl => u32::try_from(b)
                    .ok()
                    .and_then(|b| a.checked_shl(b))
                    .unwrap_or(0),
                BinOp::Shr => u32::try_from(b)
                    .ok()
                    .and_then(|b| a.checked_shr(b))
                    .unwrap_or(0),
                BinOp::BitAnd => a & b,
                BinOp::BitOr => a | b,
                BinOp::BitXor => a ^ b,
                BinOp::Eq => flag(a == b),
                BinOp::Ne => flag(a != b),
                BinOp::Lt => flag(a < b),
                BinOp::Le => flag(a <= b),
                BinOp::Gt => flag(a > b),
                BinOp::Ge => flag(a >= b),
                BinOp::And | BinOp::Or => unreachable!("short-circuited above"),
            }
        }
    })
}

/// The text as one symbol name, `module!` split off: what a demangled name full of operator
/// characters (`operator+`, `my-func`, `drop_in_place<u8>`) is.
fn as_one_name(text: &str) -> Option<(Option<&str>, &str)> {
    let t = text.trim();
    let (module, name) = match module_prefix(t) {
        Some(n) => (Some(&t[..n]), &t[n + 1..]),
        None => (None, t),
    };
    let starts_like_a_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || matches!(c, '_' | '.' | '$' | '<'));
    starts_like_a_name.then_some((module, name))
}

/// Parses and evaluates `text`. A text that is not an expression, or whose reading as one
/// names an unknown symbol, is looked up whole as a single name before giving up: symbol
/// names may hold `+`, `-`, `<` and spaces. When that fails too the expression's own error
/// stands, except that an operator-laden text with no blanks (`read+zz`) is reported as the
/// unknown name it may have meant.
pub fn evaluate<E: Env + ?Sized>(text: &str, env: &E) -> Result<u64, ExprError> {
    let parsed = parse(text);
    let first = match &parsed {
        Ok(e) => match eval(e, env) {
            Ok(v) => return Ok(v),
            Err(err) => err,
        },
        Err(err) => err.clone(),
    };
    let whole = as_one_name(text);
    let retry = match (&parsed, &first) {
        (Err(_), _) => true,
        // A lone name already was the whole text.
        (Ok(Expr::Name(_)), _) => false,
        (Ok(_), ExprError::UnknownSymbol(_)) => !text.trim().contains(char::is_whitespace),
        _ => false,
    };
    let Some((module, name)) = whole.filter(|_| retry) else {
        return Err(first);
    };
    match env.symbol(module, name) {
        Ok(v) => Ok(v),
        // The whole name exists, in several places: that is the more useful answer.
        Err(e @ ExprError::Ambiguous { .. }) => Err(e),
        Err(_) if matches!(first, ExprError::UnknownSymbol(_)) => {
            Err(ExprError::UnknownSymbol(name.to_string()))
        }
        Err(_) => Err(first),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Registers rsp and rip, a few symbols (one in two modules), 64 bytes of memory at 0x1000.
    struct Fake {
        regs: Option<HashMap<&'static str, u64>>,
        symbols: Vec<(&'static str, &'static str, u64)>,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                regs: Some(HashMap::from([
                    ("rsp", 0x7ffd_0000_1000),
                    ("rip", 0x40_1136),
                ])),
                symbols: vec![
                    ("ptscope", "main", 0x40_1000),
                    ("libc.so.6", "read", 0x7f00_0000_2000),
                    ("ptscope", "operator+", 0x40_2000),
                    ("ptscope", "my-func", 0x40_3000),
                    ("ptscope", "ptscope::demo::run", 0x40_4000),
                    ("libc.so.6", "dup", 0x7f00_0000_3000),
                    ("ld.so", "dup", 0x7f00_1000_3000),
                ],
            }
        }
    }

    impl Env for Fake {
        fn register(&self, name: &str) -> Option<Result<u64, ExprError>> {
            let lower = name.to_ascii_lowercase();
            if !["rsp", "rip", "rax"].contains(&lower.as_str()) {
                return None;
            }
            Some(match &self.regs {
                Some(r) => Ok(r.get(lower.as_str()).copied().unwrap_or(0)),
                None => Err(ExprError::NoRegisters(name.into())),
            })
        }

        fn symbol(&self, module: Option<&str>, name: &str) -> Result<u64, ExprError> {
            if let Some(m) = module {
                if !self.symbols.iter().any(|s| s.0.starts_with(m)) {
                    return Err(ExprError::UnknownModule(m.into()));
                }
            }
            let found: Vec<_> = self
                .symbols
                .iter()
                .filter(|s| s.1 == name && module.is_none_or(|m| s.0.starts_with(m)))
                .collect();
            match found.as_slice() {
                [] => Err(ExprError::UnknownSymbol(name.into())),
                [one] => Ok(one.2),
                many => Err(ExprError::Ambiguous {
                    name: name.into(),
                    candidates: many.iter().map(|s| format!("{}!{}", s.0, s.1)).collect(),
                }),
            }
        }

        fn read(&self, addr: u64, width: Width) -> Result<u64, ExprError> {
            let n = width.bytes();
            if !(0x1000..0x1040).contains(&addr) || addr + n as u64 > 0x1040 {
                return Err(ExprError::Memory {
                    addr,
                    size: n as u8,
                    reason: "unreadable".into(),
                });
            }
            // Byte i of the fake memory holds 0x10 + i.
            let mut v = 0u64;
            for i in (0..n).rev() {
                v = v << 8 | (0x10 + (addr - 0x1000) + i as u64);
            }
            Ok(v)
        }
    }

    #[test]
    fn arithmetic_registers_and_symbols() {
        let env = Fake::new();
        let cases: [(&str, u64); 27] = [
            ("0x401136", 0x401136),
            ("4198710", 4198710),
            ("rsp", 0x7ffd_0000_1000),
            ("RSP", 0x7ffd_0000_1000),
            ("rsp-0x40", 0x7ffd_0000_0fc0),
            ("rsp - 64", 0x7ffd_0000_0fc0),
            ("rip+0x10+1", 0x40_1147),
            ("main", 0x40_1000),
            ("main+4", 0x40_1004),
            ("libc!read+0x4", 0x7f00_0000_2004),
            ("libc.so.6!read", 0x7f00_0000_2000),
            ("ptscope::demo::run", 0x40_4000),
            ("(1+2)*3", 9),
            ("7/2", 3),
            ("7%4", 3),
            ("1<<4|1", 0x11),
            ("0xf0>>4^0xff", 0xf0),
            ("0-1", u64::MAX),
            ("-1", u64::MAX),
            ("~0", u64::MAX),
            ("!0 + !5", 1),
            ("rsp > main && main != 0", 1),
            ("rsp < main || 0", 0),
            ("3 <= 3 == 1 >= 1", 1),
            ("1 << 64", 0),
            ("*0x1000", 0x1716_1514_1312_1110),
            ("*(u16*)(0x1000+2) + *(u8*)0x1000", 0x1312 + 0x10),
        ];
        for (text, want) in cases {
            assert_eq!(evaluate(text, &env), Ok(want), "{text}");
        }
    }

    #[test]
    fn the_right_side_of_and_or_is_skipped_when_the_left_decides() {
        let env = Fake::new();
        assert_eq!(evaluate("0 && nosuch", &env), Ok(0));
        assert_eq!(evaluate("1 || 1/0", &env), Ok(1));
        assert_eq!(evaluate("1 && 1/0", &env), Err(ExprError::DivideByZero));
    }

    #[test]
    fn names_with_operator_characters_are_tried_whole() {
        let env = Fake::new();
        assert_eq!(evaluate("operator+", &env), Ok(0x40_2000));
        assert_eq!(evaluate("my-func", &env), Ok(0x40_3000));
        assert_eq!(evaluate("ptscope!my-func", &env), Ok(0x40_3000));
        assert_eq!(
            evaluate("read+zz", &env),
            Err(ExprError::UnknownSymbol("read+zz".into())),
            "neither reading names anything"
        );
        // With blanks it is plainly an expression, and the unknown part is named.
        assert_eq!(
            evaluate("read + zz", &env),
            Err(ExprError::UnknownSymbol("zz".into()))
        );
        assert_eq!(
            evaluate("main+", &env),
            Err(ExprError::Syntax {
                text: "main+".into(),
                at: 6,
                what: "expected a number, register or name, found the end".into()
            }),
            "not a name either: the syntax error stands"
        );
    }

    #[test]
    fn errors_are_typed() {
        let env = Fake::new();
        let cases = [
            ("nosuch", ExprError::UnknownSymbol("nosuch".into())),
            ("nolib!read", ExprError::UnknownModule("nolib".into())),
            ("1/0", ExprError::DivideByZero),
            ("5 % (rsp-rsp)", ExprError::DivideByZero),
            ("0xzz", ExprError::BadNumber("0xzz".into())),
            (
                "99999999999999999999999",
                ExprError::TooLarge("99999999999999999999999".into()),
            ),
            ("", ExprError::Empty),
            (
                "*0x2000",
                ExprError::Memory {
                    addr: 0x2000,
                    size: 8,
                    reason: "unreadable".into(),
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(evaluate(text, &env), Err(want), "{text}");
        }
        match evaluate("dup", &env) {
            Err(ExprError::Ambiguous { name, candidates }) => {
                assert_eq!(name, "dup");
                assert_eq!(candidates.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        let no_regs = Fake {
            regs: None,
            ..Fake::new()
        };
        let err = evaluate("rsp+8", &no_regs).unwrap_err();
        assert_eq!(err, ExprError::NoRegisters("rsp".into()));
        assert!(err.to_string().contains("must be stopped"), "{err}");
        assert_eq!(evaluate("0x1000", &no_regs), Ok(0x1000));
        for e in [ExprError::Empty, ExprError::DivideByZero, err] {
            assert!(!e.to_string().contains('\n'));
        }
    }

    #[test]
    fn memory_needs_an_env_that_reads_it() {
        struct SymbolsOnly;
        impl Env for SymbolsOnly {
            fn symbol(&self, _: Option<&str>, name: &str) -> Result<u64, ExprError> {
                Err(ExprError::UnknownSymbol(name.into()))
            }
        }
        assert!(matches!(
            evaluate("*0x1000", &SymbolsOnly),
            Err(ExprError::Memory {
                addr: 0x1000,
                size: 8,
                ..
            })
        ));
        // Without registers, register names are symbols.
        assert_eq!(
            evaluate("rsp", &SymbolsOnly),
            Err(ExprError::UnknownSymbol("rsp".into()))
        );
    }
}
