//! The address expressions users type: `0x7f00dead`, `main`, `read+0x10`, `libc!read`,
//! `ptscope::demo::chain::mutex_waiter-4`.

use super::error::SymbolError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddrExpr {
    Addr(u64),
    Symbol {
        module: Option<String>,
        name: String,
        offset: i64,
    },
}

fn number(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()
    } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// Splits a trailing `+N` / `-N`. Only a number after the last sign counts, so names with
/// `-` or `+` inside (C++ `operator+`, file-like names) stay whole.
fn split_offset(s: &str) -> Option<(&str, i64)> {
    if let Some(pos) = s.rfind(['+', '-']) {
        if let Some(n) = number(&s[pos + 1..]) {
            let n = i64::try_from(n).ok()?;
            let base = s[..pos].trim_end();
            if base.is_empty() {
                return None;
            }
            return Some((base, if &s[pos..pos + 1] == "-" { -n } else { n }));
        }
    }
    Some((s, 0))
}

pub fn parse(text: &str) -> Result<AddrExpr, SymbolError> {
    let s = text.trim();
    let bad = || SymbolError::BadExpression(text.to_string());
    if s.is_empty() {
        return Err(bad());
    }
    let (base, offset) = split_offset(s).ok_or_else(bad)?;
    if let Some(a) = number(base) {
        return Ok(AddrExpr::Addr(a.wrapping_add_signed(offset)));
    }
    if base.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(bad());
    }
    let (module, name) = match base.split_once('!') {
        Some((m, n)) if !m.trim().is_empty() && !n.trim().is_empty() => {
            (Some(m.trim().to_string()), n.trim().to_string())
        }
        Some(_) => return Err(bad()),
        None => (None, base.to_string()),
    };
    if name.chars().any(char::is_whitespace) && !name.contains(['(', '<']) {
        return Err(bad());
    }
    Ok(AddrExpr::Symbol {
        module,
        name,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(module: Option<&str>, name: &str, offset: i64) -> AddrExpr {
        AddrExpr::Symbol {
            module: module.map(String::from),
            name: name.into(),
            offset,
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(parse("0x7f00dead"), Ok(AddrExpr::Addr(0x7f00dead)));
        assert_eq!(parse(" 0X10 "), Ok(AddrExpr::Addr(0x10)));
        assert_eq!(parse("4096"), Ok(AddrExpr::Addr(4096)));
        assert_eq!(parse("0x1000+0x10"), Ok(AddrExpr::Addr(0x1010)));
        assert_eq!(parse("0x1000-16"), Ok(AddrExpr::Addr(0xff0)));
    }

    #[test]
    fn names_offsets_and_modules() {
        assert_eq!(parse("main"), Ok(sym(None, "main", 0)));
        assert_eq!(parse("read+0x10"), Ok(sym(None, "read", 16)));
        assert_eq!(parse("read + 8"), Ok(sym(None, "read", 8)));
        assert_eq!(parse("read-4"), Ok(sym(None, "read", -4)));
        assert_eq!(
            parse("libc.so.6!read"),
            Ok(sym(Some("libc.so.6"), "read", 0))
        );
        assert_eq!(parse("libc!read+0x4"), Ok(sym(Some("libc"), "read", 4)));
        assert_eq!(
            parse("ptscope::demo::chain::mutex_waiter"),
            Ok(sym(None, "ptscope::demo::chain::mutex_waiter", 0))
        );
        assert_eq!(parse("my-func"), Ok(sym(None, "my-func", 0)));
        assert_eq!(parse("operator+"), Ok(sym(None, "operator+", 0)));
    }

    #[test]
    fn garbage_is_a_typed_error() {
        for bad in [
            "",
            "  ",
            "0xzz",
            "12abc",
            "!read",
            "libc!",
            "+0x10",
            "two words",
            "0x1+0xffffffffffffffff",
        ] {
            assert_eq!(
                parse(bad),
                Err(SymbolError::BadExpression(bad.to_string())),
                "{bad:?}"
            );
        }
    }
}
