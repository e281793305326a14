//! Names to addresses through the one expression language (`crate::expr`): a `Symbolizer` is
//! an expression environment that knows symbols (no registers, no memory), and `resolve`
//! evaluates what users type: `0x7f00dead`, `main`, `read+0x10`, `libc!read`,
//! `ptscope::demo::chain::mutex_waiter-4`.

use super::error::SymbolError;
use super::Symbolizer;
use crate::expr::{self, Env, ExprError};

impl Symbolizer {
    /// The one definition of `name` (in `module`, or in any mapped module), or a typed error
    /// listing the candidates when there are several.
    pub fn address_of(&self, module: Option<&str>, name: &str) -> Result<u64, SymbolError> {
        let found = self.lookup(module, name)?;
        match found.as_slice() {
            [] => Err(SymbolError::UnknownSymbol(name.to_string())),
            [one] => Ok(one.addr),
            many => Err(SymbolError::Ambiguous {
                name: name.to_string(),
                candidates: many
                    .iter()
                    .map(|m| format!("{} ({:#x})", m.qualified(), m.addr))
                    .collect(),
            }),
        }
    }

    /// An expression over this process's symbols to one address.
    pub fn resolve(&self, text: &str) -> Result<u64, SymbolError> {
        resolve_in(text, self)
    }
}

impl Env for Symbolizer {
    fn symbol(&self, module: Option<&str>, name: &str) -> Result<u64, ExprError> {
        self.address_of(module, name).map_err(|e| match e {
            SymbolError::UnknownSymbol(n) => ExprError::UnknownSymbol(n),
            SymbolError::UnknownModule(m) => ExprError::UnknownModule(m),
            SymbolError::Ambiguous { name, candidates } => {
                ExprError::Ambiguous { name, candidates }
            }
            other => ExprError::NoSymbols(other.to_string()),
        })
    }
}

/// `text` evaluated in `env`, with the expression's errors in this layer's terms.
pub fn resolve_in<E: Env + ?Sized>(text: &str, env: &E) -> Result<u64, SymbolError> {
    expr::evaluate(text, env).map_err(|e| match e {
        ExprError::Empty
        | ExprError::Syntax { .. }
        | ExprError::BadNumber(_)
        | ExprError::TooLarge(_) => SymbolError::BadExpression(text.to_string()),
        ExprError::UnknownSymbol(n) => SymbolError::UnknownSymbol(n),
        ExprError::UnknownModule(m) => SymbolError::UnknownModule(m),
        ExprError::Ambiguous { name, candidates } => SymbolError::Ambiguous { name, candidates },
        error => SymbolError::Eval {
            text: text.to_string(),
            error,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Symbols as a process might have them, without the process.
    struct Table;

    impl Env for Table {
        fn symbol(&self, module: Option<&str>, name: &str) -> Result<u64, ExprError> {
            let all = [
                ("ptscope", "main", 0x40_1000),
                ("libc.so.6", "read", 0x7f00_0000_2000),
                ("ptscope", "ptscope::demo::chain::mutex_waiter", 0x40_5000),
                ("ptscope", "my-func", 0x40_3000),
                ("ptscope", "operator+", 0x40_2000),
            ];
            if let Some(m) = module {
                if !all.iter().any(|s| s.0.starts_with(m)) {
                    return Err(ExprError::UnknownModule(m.into()));
                }
            }
            all.iter()
                .find(|s| s.1 == name && module.is_none_or(|m| s.0.starts_with(m)))
                .map(|s| s.2)
                .ok_or_else(|| ExprError::UnknownSymbol(name.into()))
        }
    }

    #[test]
    fn addresses() {
        for (text, want) in [
            ("0x7f00dead", 0x7f00dead),
            (" 0X10 ", 0x10),
            ("4096", 4096),
            ("0x1000+0x10", 0x1010),
            ("0x1000-16", 0xff0),
        ] {
            assert_eq!(resolve_in(text, &Table), Ok(want), "{text}");
        }
    }

    #[test]
    fn names_offsets_and_modules() {
        for (text, want) in [
            ("main", 0x40_1000),
            ("read+0x10", 0x7f00_0000_2010),
            ("read + 8", 0x7f00_0000_2008),
            ("read-4", 0x7f00_0000_1ffc),
            ("libc.so.6!read", 0x7f00_0000_2000),
            ("libc!read+0x4", 0x7f00_0000_2004),
            ("ptscope::demo::chain::mutex_waiter", 0x40_5000),
            ("ptscope::demo::chain::mutex_waiter-4", 0x40_4ffc),
            ("my-func", 0x40_3000),
            ("operator+", 0x40_2000),
        ] {
            assert_eq!(resolve_in(text, &Table), Ok(want), "{text}");
        }
        assert_eq!(
            resolve_in("nolib!read", &Table),
            Err(SymbolError::UnknownModule("nolib".into()))
        );
        assert_eq!(
            resolve_in("read+zz", &Table),
            Err(SymbolError::UnknownSymbol("read+zz".into()))
        );
    }

    #[test]
    fn garbage_is_a_typed_error() {
        for bad in [
            "",
            "  ",
            "0xzz",
            "12abc",
            "libc!",
            "+0x10",
            "two words",
            "read+",
        ] {
            assert_eq!(
                resolve_in(bad, &Table),
                Err(SymbolError::BadExpression(bad.to_string())),
                "{bad:?}"
            );
        }
        // Whatever parses but cannot be worked out says why, in one line.
        let e = resolve_in("main/0", &Table).unwrap_err();
        assert_eq!(
            e,
            SymbolError::Eval {
                text: "main/0".into(),
                error: ExprError::DivideByZero
            }
        );
        assert_eq!(e.to_string(), "cannot evaluate `main/0`: division by zero");
        assert!(matches!(
            resolve_in("*main", &Table),
            Err(SymbolError::Eval {
                error: ExprError::Memory { .. },
                ..
            })
        ));
    }
}
