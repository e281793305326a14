//! Tokens to a tree, by precedence climbing over C's operator table.

use super::ast::{BinOp, Expr, UnOp, Width};
use super::lexer::{tokens, Tok, Token};
use super::ExprError;

/// The operator and its precedence (higher binds tighter), C's order.
fn binop(op: &str) -> Option<(BinOp, u8)> {
    Some(match op {
        "||" => (BinOp::Or, 1),
        "&&" => (BinOp::And, 2),
        "|" => (BinOp::BitOr, 3),
        "^" => (BinOp::BitXor, 4),
        "&" => (BinOp::BitAnd, 5),
        "==" => (BinOp::Eq, 6),
        "!=" => (BinOp::Ne, 6),
        "<" => (BinOp::Lt, 7),
        "<=" => (BinOp::Le, 7),
        ">" => (BinOp::Gt, 7),
        ">=" => (BinOp::Ge, 7),
        "<<" => (BinOp::Shl, 8),
        ">>" => (BinOp::Shr, 8),
        "+" => (BinOp::Add, 9),
        "-" => (BinOp::Sub, 9),
        "*" => (BinOp::Mul, 10),
        "/" => (BinOp::Div, 10),
        "%" => (BinOp::Rem, 10),
        _ => return None,
    })
}

/// The width a cast names: `u32` in `*(u32*)`.
fn width_named(name: &str) -> Option<Width> {
    Some(match name {
        "u8" => Width::U8,
        "u16" => Width::U16,
        "u32" => Width::U32,
        "u64" => Width::U64,
        _ => return None,
    })
}

/// Parentheses and unary operators nest at most this deep: a hostile text cannot exhaust the
/// stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    text: &'a str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    fn peek_at(&self, ahead: usize) -> Option<&Tok> {
        self.toks.get(self.pos + ahead).map(|t| &t.tok)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.tok.clone());
        self.pos += 1;
        t
    }

    /// A syntax error at the current token (or the end of the text).
    fn error(&self, what: impl Into<String>) -> ExprError {
        let at = self
            .toks
            .get(self.pos)
            .map(|t| t.at)
            .unwrap_or(self.text.len());
        ExprError::Syntax {
            text: self.text.to_string(),
            at: self.text[..at].chars().count() + 1,
            what: what.into(),
        }
    }

    fn found(&self) -> String {
        match self.toks.get(self.pos) {
            None => "the end".into(),
            Some(t) => {
                let end = self
                    .toks
                    .get(self.pos + 1)
                    .map(|n| n.at)
                    .unwrap_or(self.text.len());
                format!("`{}`", self.text[t.at..end].trim_end())
            }
        }
    }

    fn expr(&mut self, min_prec: u8) -> Result<Expr, ExprError> {
        let mut lhs = self.unary()?;
        while let Some(Tok::Op(op)) = self.peek() {
            let Some((op, prec)) = binop(op) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            self.pos += 1;
            // Left-associative: the right side takes only tighter operators.
            let rhs = self.expr(prec + 1)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        let e = match self.peek() {
            Some(Tok::Op("-")) => self.prefix(|e| Expr::Unary(UnOp::Neg, e)),
            Some(Tok::Op("~")) => self.prefix(|e| Expr::Unary(UnOp::BitNot, e)),
            Some(Tok::Op("!")) => self.prefix(|e| Expr::Unary(UnOp::Not, e)),
            Some(Tok::Op("*")) => {
                let width = self.cast();
                self.prefix(|e| Expr::Deref(width, e))
            }
            _ => self.atom(),
        };
        self.depth -= 1;
        e
    }

    fn prefix(&mut self, make: impl FnOnce(Box<Expr>) -> Expr) -> Result<Expr, ExprError> {
        self.pos += 1;
        Ok(make(Box::new(self.unary()?)))
    }

    /// After a `*`: `(u32*)` names the width and is consumed; anything else reads 8 bytes.
    fn cast(&mut self) -> Width {
        let width = match (
            self.peek_at(1),
            self.peek_at(2),
            self.peek_at(3),
            self.peek_at(4),
        ) {
            (Some(Tok::Open), Some(Tok::Name(n)), Some(Tok::Op("*")), Some(Tok::Close))
                if n.is_plain() =>
            {
                width_named(&n.name)
            }
            _ => None,
        };
        match width {
            Some(w) => {
                // Leave the `*` itself for `prefix` to step over.
                self.toks.drain(self.pos + 1..self.pos + 5);
                w
            }
            None => Width::U64,
        }
    }

    fn atom(&mut self) -> Result<Expr, ExprError> {
        let want = "expected a number, register or name";
        match self.peek() {
            Some(Tok::Num(_) | Tok::Name(_)) => match self.next() {
                Some(Tok::Num(n)) => Ok(Expr::Num(n)),
                Some(Tok::Name(n)) => Ok(Expr::Name(n)),
                _ => Err(self.error(want)),
            },
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.expr(0)?;
                match self.peek() {
                    Some(Tok::Close) => {
                        self.pos += 1;
                        Ok(e)
                    }
                    _ => Err(self.error(format!("expected `)`, found {}", self.found()))),
                }
            }
            _ => Err(self.error(format!("{want}, found {}", self.found()))),
        }
    }
}

/// Reads a whole expression; anything left over is an error.
pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let toks = tokens(text)?;
    if toks.is_empty() {
        return Err(ExprError::Empty);
    }
    let mut p = Parser {
        text,
        toks,
        pos: 0,
        depth: 0,
    };
    let e = p.expr(0)?;
    if p.pos < p.toks.len() {
        return Err(p.error(format!("expected an operator, found {}", p.found())));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::ast::Name;

    fn num(n: u64) -> Box<Expr> {
        Box::new(Expr::Num(n))
    }

    fn name(module: Option<&str>, n: &str) -> Box<Expr> {
        Box::new(Expr::Name(Name {
            module: module.map(String::from),
            name: n.into(),
        }))
    }

    fn bin(op: BinOp, a: Box<Expr>, b: Box<Expr>) -> Box<Expr> {
        Box::new(Expr::Binary(op, a, b))
    }

    fn p(text: &str) -> Box<Expr> {
        Box::new(parse(text).unwrap_or_else(|e| panic!("{text}: {e}")))
    }

    #[test]
    fn precedence_and_associativity_follow_c() {
        use BinOp::*;
        assert_eq!(p("1+2*3"), bin(Add, num(1), bin(Mul, num(2), num(3))));
        assert_eq!(p("(1+2)*3"), bin(Mul, bin(Add, num(1), num(2)), num(3)));
        assert_eq!(p("8-4-2"), bin(Sub, bin(Sub, num(8), num(4)), num(2)));
        assert_eq!(
            p("1<<2+3"),
            bin(Shl, num(1), bin(Add, num(2), num(3))),
            "+ binds tighter than <<"
        );
        assert_eq!(
            p("a&1==1"),
            bin(BitAnd, name(None, "a"), bin(Eq, num(1), num(1))),
            "== binds tighter than &, as in C"
        );
        assert_eq!(
            p("a||b&&c"),
            bin(
                Or,
                name(None, "a"),
                bin(And, name(None, "b"), name(None, "c"))
            )
        );
        assert_eq!(
            p("x|y^z&w"),
            bin(
                BitOr,
                name(None, "x"),
                bin(
                    BitXor,
                    name(None, "y"),
                    bin(BitAnd, name(None, "z"), name(None, "w"))
                )
            )
        );
        assert_eq!(
            p("a<b==c>=d"),
            bin(
                Eq,
                bin(Lt, name(None, "a"), name(None, "b")),
                bin(Ge, name(None, "c"), name(None, "d"))
            )
        );
    }

    #[test]
    fn unary_and_dereference() {
        assert_eq!(
            p("-rsp+8"),
            bin(
                BinOp::Add,
                Box::new(Expr::Unary(UnOp::Neg, name(None, "rsp"))),
                num(8)
            )
        );
        assert_eq!(
            p("!~0"),
            Box::new(Expr::Unary(
                UnOp::Not,
                Box::new(Expr::Unary(UnOp::BitNot, num(0)))
            ))
        );
        assert_eq!(
            p("*rsp+8"),
            bin(
                BinOp::Add,
                Box::new(Expr::Deref(Width::U64, name(None, "rsp"))),
                num(8)
            ),
            "* binds like C's: to the operand only"
        );
        assert_eq!(
            p("*(rsp+8)"),
            Box::new(Expr::Deref(
                Width::U64,
                bin(BinOp::Add, name(None, "rsp"), num(8))
            ))
        );
        assert_eq!(
            p("*(u32*)(rsp+8)"),
            Box::new(Expr::Deref(
                Width::U32,
                bin(BinOp::Add, name(None, "rsp"), num(8))
            ))
        );
        assert_eq!(
            p("*(u8 *) rdi"),
            Box::new(Expr::Deref(Width::U8, name(None, "rdi")))
        );
        assert_eq!(
            p("**(u16*)rsp"),
            Box::new(Expr::Deref(
                Width::U64,
                Box::new(Expr::Deref(Width::U16, name(None, "rsp")))
            ))
        );
        // Not a width: an ordinary product inside a dereference.
        assert_eq!(
            p("*(n*2)"),
            Box::new(Expr::Deref(
                Width::U64,
                bin(BinOp::Mul, name(None, "n"), num(2))
            ))
        );
        assert_eq!(p("2*3"), bin(BinOp::Mul, num(2), num(3)));
    }

    #[test]
    fn names_keep_their_module() {
        assert_eq!(
            p("libc!read+0x4"),
            bin(BinOp::Add, name(Some("libc"), "read"), num(4))
        );
        assert!(!Name {
            module: None,
            name: "a::b".into()
        }
        .is_plain());
    }

    #[test]
    fn errors_name_the_column() {
        let cases = [
            (
                "rsp+",
                5,
                "expected a number, register or name, found the end",
            ),
            (
                "rsp++1",
                5,
                "expected a number, register or name, found `+`",
            ),
            ("(rsp", 5, "expected `)`, found the end"),
            ("rsp)", 4, "expected an operator, found `)`"),
            ("two words", 5, "expected an operator, found `words`"),
            (
                "*(u32*)",
                8,
                "expected a number, register or name, found the end",
            ),
        ];
        for (text, at, what) in cases {
            assert_eq!(
                parse(text),
                Err(ExprError::Syntax {
                    text: text.into(),
                    at,
                    what: what.into()
                }),
                "{text}"
            );
        }
        assert_eq!(parse("   "), Err(ExprError::Empty));
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert!(
            matches!(parse(&deep), Err(ExprError::Syntax { ref what, .. }) if what == "nested too deeply")
        );
        assert!(parse(&"-".repeat(10_000)).is_err());
    }
}
