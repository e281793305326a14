//! Text to tokens. Names are the only subtle part: a module qualifier runs up to `!` and may
//! hold `-`, `+` and `.` (`ld-linux-x86-64.so.2!_dl_catch_exception`), and a path joins
//! identifiers with `::`.

use super::ast::Name;
use super::number::parse_number;
use super::ExprError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    Num(u64),
    Name(Name),
    /// An operator: `||`, `<<`, `+`, `!`, ...
    Op(&'static str),
    Open,
    Close,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub tok: Tok,
    /// Byte offset of the token's first character.
    pub at: usize,
}

/// Longest first, so `<<` is not read as two `<`.
const OPS: [&str; 20] = [
    "||", "&&", "==", "!=", "<=", ">=", "<<", ">>", "|", "^", "&", "<", ">", "+", "-", "*", "/",
    "%", "~", "!",
];

fn ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || matches!(c, '_' | '.' | '$')
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$' | '@')
}

fn module_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')
}

/// The length in bytes of the run of `s` whose characters satisfy `f`.
fn run(s: &str, f: impl Fn(char) -> bool) -> usize {
    s.find(|c: char| !f(c)).unwrap_or(s.len())
}

/// `module!` at the start of `s`: the module's length, when `s` starts with one.
pub fn module_prefix(s: &str) -> Option<usize> {
    let n = run(s, module_char);
    let after = s[n..].strip_prefix('!')?;
    (n > 0 && after.starts_with(ident_start)).then_some(n)
}

/// An identifier with its `::` segments: `ptscope::demo::chain::mutex_waiter`.
fn path(s: &str) -> usize {
    let mut n = run(s, ident_char);
    while let Some(rest) = s[n..].strip_prefix("::") {
        if !rest.starts_with(ident_start) {
            break;
        }
        n += 2 + run(rest, ident_char);
    }
    n
}

fn syntax(text: &str, at: usize, what: impl Into<String>) -> ExprError {
    ExprError::Syntax {
        text: text.to_string(),
        at: text[..at].chars().count() + 1,
        what: what.into(),
    }
}

pub fn tokens(text: &str) -> Result<Vec<Token>, ExprError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let Some(c) = rest.chars().next() else { break };
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let at = i;
        let (tok, len) = if c.is_ascii_digit() {
            // The whole alphanumeric run is the number, so `0xzz` and `12abc` are one bad
            // number rather than a number and a name.
            let n = run(rest, |c| c.is_ascii_alphanumeric() || c == '_');
            (Tok::Num(parse_number(&rest[..n])?), n)
        } else if ident_start(c) {
            let (module, skip) = match module_prefix(rest) {
                Some(m) => (Some(rest[..m].to_string()), m + 1),
                None => (None, 0),
            };
            let n = path(&rest[skip..]);
            let name = rest[skip..skip + n].to_string();
            (Tok::Name(Name { module, name }), skip + n)
        } else if c == '(' {
            (Tok::Open, 1)
        } else if c == ')' {
            (Tok::Close, 1)
        } else if let Some(op) = OPS.iter().find(|op| rest.starts_with(**op)) {
            (Tok::Op(op), op.len())
        } else {
            return Err(syntax(text, at, format!("unexpected `{c}`")));
        };
        out.push(Token { tok, at });
        i += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(module: Option<&str>, name: &str) -> Tok {
        Tok::Name(Name {
            module: module.map(String::from),
            name: name.into(),
        })
    }

    fn toks(text: &str) -> Vec<Tok> {
        tokens(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn operators_numbers_and_names() {
        assert_eq!(
            toks("rsp-0x40"),
            [name(None, "rsp"), Tok::Op("-"), Tok::Num(0x40)]
        );
        assert_eq!(
            toks("(a<<2)>=b"),
            [
                Tok::Open,
                name(None, "a"),
                Tok::Op("<<"),
                Tok::Num(2),
                Tok::Close,
                Tok::Op(">="),
                name(None, "b")
            ]
        );
        assert_eq!(
            toks("!x != 1"),
            [Tok::Op("!"), name(None, "x"), Tok::Op("!="), Tok::Num(1)]
        );
    }

    #[test]
    fn modules_and_paths() {
        assert_eq!(
            toks("ld-linux-x86-64.so.2!_dl_catch_exception+4"),
            [
                name(Some("ld-linux-x86-64.so.2"), "_dl_catch_exception"),
                Tok::Op("+"),
                Tok::Num(4)
            ]
        );
        assert_eq!(
            toks("libstdc++.so.6!foo"),
            [name(Some("libstdc++.so.6"), "foo")]
        );
        assert_eq!(
            toks("ptscope::demo::chain::mutex_waiter"),
            [name(None, "ptscope::demo::chain::mutex_waiter")]
        );
        assert_eq!(toks("read@GLIBC_2.2.5"), [name(None, "read@GLIBC_2.2.5")]);
        // `!=` is an operator, not a module separator.
        assert_eq!(
            toks("a!=b"),
            [name(None, "a"), Tok::Op("!="), name(None, "b")]
        );
    }

    #[test]
    fn bad_characters_and_numbers_say_where() {
        assert_eq!(
            tokens("rsp # 4"),
            Err(ExprError::Syntax {
                text: "rsp # 4".into(),
                at: 5,
                what: "unexpected `#`".into()
            })
        );
        assert_eq!(tokens("0xzz"), Err(ExprError::BadNumber("0xzz".into())));
        assert_eq!(tokens("12abc"), Err(ExprError::BadNumber("12abc".into())));
    }
}
