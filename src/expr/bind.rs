//! Binding an expression once, where symbols are known, so that it can be evaluated many times
//! where they are not: a breakpoint condition is parsed and its symbols resolved when the
//! breakpoint is set (on the UI side, which has the symbol tables), and the tracer thread then
//! evaluates the bound tree at every hit with only registers and memory.

use super::ast::Expr;
use super::ExprError;

/// Resolves a symbol (in a module, or in any) to its address.
pub type SymbolFn<'a> = dyn Fn(Option<&str>, &str) -> Result<u64, ExprError> + 'a;

/// `e` with every name that is not a register replaced by its address. `is_register` says which
/// plain names the evaluating side will supply; `symbol` resolves the rest.
pub fn bind(
    e: &Expr,
    is_register: &dyn Fn(&str) -> bool,
    symbol: &SymbolFn,
) -> Result<Expr, ExprError> {
    Ok(match e {
        Expr::Num(n) => Expr::Num(*n),
        Expr::Name(n) if n.is_plain() && is_register(&n.name) => Expr::Name(n.clone()),
        Expr::Name(n) => Expr::Num(symbol(n.module.as_deref(), &n.name)?),
        Expr::Unary(op, x) => Expr::Unary(*op, Box::new(bind(x, is_register, symbol)?)),
        Expr::Binary(op, a, b) => Expr::Binary(
            *op,
            Box::new(bind(a, is_register, symbol)?),
            Box::new(bind(b, is_register, symbol)?),
        ),
        Expr::Deref(w, a) => Expr::Deref(*w, Box::new(bind(a, is_register, symbol)?)),
    })
}

/// Whether a bound expression still names anything (only registers should be left).
pub fn names(e: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    collect(e, &mut out);
    out
}

fn collect(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Num(_) => {}
        Expr::Name(n) => out.push(n.name.clone()),
        Expr::Unary(_, x) | Expr::Deref(_, x) => collect(x, out),
        Expr::Binary(_, a, b) => {
            collect(a, out);
            collect(b, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{eval, parse, Env};

    fn regs(name: &str) -> bool {
        matches!(name, "rdi" | "rsi")
    }

    fn syms(module: Option<&str>, name: &str) -> Result<u64, ExprError> {
        match (module, name) {
            (None, "counter") => Ok(0x1000),
            (Some("libc.so.6"), "read") => Ok(0x7f00),
            _ => Err(ExprError::UnknownSymbol(name.into())),
        }
    }

    struct Rdi(u64);
    impl Env for Rdi {
        fn register(&self, name: &str) -> Option<Result<u64, ExprError>> {
            (name == "rdi").then_some(Ok(self.0))
        }
        fn symbol(&self, _: Option<&str>, name: &str) -> Result<u64, ExprError> {
            Err(ExprError::UnknownSymbol(name.into()))
        }
    }

    #[test]
    fn symbols_become_numbers_and_registers_stay() {
        let e = parse("rdi == counter + 8 && libc.so.6!read != 0").unwrap();
        let b = bind(&e, &regs, &syms).unwrap();
        assert_eq!(names(&b), ["rdi"]);
        assert_eq!(eval(&b, &Rdi(0x1008)), Ok(1));
        assert_eq!(eval(&b, &Rdi(0x1009)), Ok(0));
        assert_eq!(
            bind(&parse("nosuch + 1").unwrap(), &regs, &syms),
            Err(ExprError::UnknownSymbol("nosuch".into()))
        );
    }
}
