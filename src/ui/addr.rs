//! The address expressions the `b` and `g` prompts accept: `0x401136`, `4198710`, `rsp`,
//! `rip+0x10`, `rsp - 64`, or a name the session knows (the demo's hot function).

use crate::regs::Registers;
use std::collections::BTreeMap;

/// What an expression may refer to besides numbers.
pub struct Scope<'a> {
    /// The selected thread's registers as of its last stop.
    pub regs: Option<&'a Registers>,
    pub symbols: &'a BTreeMap<String, u64>,
}

pub fn eval(expr: &str, scope: &Scope) -> Result<u64, String> {
    let expr = expr.trim();
    if expr.is_empty() {
        return Err("empty address".into());
    }
    let mut total: u64 = 0;
    let mut sign = 1i8;
    let mut rest = expr;
    let mut first = true;
    loop {
        let end = rest.find(['+', '-']).unwrap_or(rest.len());
        let term = rest[..end].trim();
        if term.is_empty() {
            // A leading '-' makes no address; anything else is a doubled operator.
            return Err(if first {
                format!("{expr:?}: an address cannot start with an operator")
            } else {
                format!("{expr:?}: missing a number or register")
            });
        }
        let v = term_value(term, scope)?;
        total = if sign > 0 {
            total.wrapping_add(v)
        } else {
            total.wrapping_sub(v)
        };
        first = false;
        if end == rest.len() {
            return Ok(total);
        }
        sign = if rest.as_bytes()[end] == b'+' { 1 } else { -1 };
        rest = &rest[end + 1..];
    }
}

fn term_value(term: &str, scope: &Scope) -> Result<u64, String> {
    let lower = term.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).map_err(|_| format!("{term:?} is not a hex number"));
    }
    if lower.chars().all(|c| c.is_ascii_digit()) {
        return lower.parse().map_err(|_| format!("{term:?} is too large"));
    }
    if Registers::index_of(&lower).is_some() {
        let regs = scope.regs.ok_or_else(|| {
            format!("{term}: the selected thread has no registers (it must be stopped)")
        })?;
        return regs
            .get(&lower)
            .ok_or_else(|| format!("unknown register {term}"));
    }
    if let Some(v) = scope.symbols.get(term) {
        return Ok(*v);
    }
    if lower.chars().all(|c| c.is_ascii_hexdigit()) {
        return u64::from_str_radix(&lower, 16).map_err(|_| format!("{term:?} is too large"));
    }
    Err(format!("{term:?} is not a number, register or known name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions() {
        let mut regs = Registers::default();
        regs.set("rsp", 0x7ffd_0000_1000);
        regs.set("rip", 0x40_1136);
        let mut symbols = BTreeMap::new();
        symbols.insert("ptscope_demo_hot".to_string(), 0x5555_0000_1234);
        let scope = Scope {
            regs: Some(&regs),
            symbols: &symbols,
        };
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
            ("  0x10  ", 0x10),
        ];
        for (text, want) in ok {
            assert_eq!(eval(text, &scope), Ok(want), "{text}");
        }
        for bad in [
            "",
            "-4",
            "rsp+",
            "rsp++1",
            "0xzz",
            "banana",
            "99999999999999999999999",
        ] {
            assert!(eval(bad, &scope).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn registers_need_a_stopped_thread() {
        let symbols = BTreeMap::new();
        let scope = Scope {
            regs: None,
            symbols: &symbols,
        };
        let err = eval("rsp+8", &scope).unwrap_err();
        assert!(err.contains("must be stopped"), "{err}");
        assert_eq!(eval("0x1000", &scope), Ok(0x1000));
    }
}
