//! What a breakpoint does when a thread reaches it, decided on the tracer thread with no round
//! trip to a front end: a condition over the hitting thread's registers and memory, a number of
//! hits to let pass, and the action (stop the world, write a log line, or report the hit to a
//! tracing front end). Expressions arrive parsed and bound (`crate::expr::bind`): symbols are
//! numbers already, so only registers and memory are looked up at the hit.
//!
//! `spec.rs` reads the text form (`LOCATION if EXPR ignore N log "..."`).

pub mod spec;

use crate::expr::{eval, Env, Expr, ExprError};
use serde::Serialize;
use std::collections::BTreeMap;

/// A parsed, bound condition and the text it came from (for the Breakpoints pane).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub source: String,
    pub expr: Expr,
}

/// One piece of a logpoint's line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogPart {
    Text(String),
    /// `{EXPR}` (hex) or `{EXPR:d}` (decimal).
    Value {
        expr: Expr,
        decimal: bool,
    },
}

/// A logpoint's line: `"rdi={rdi} first={*rsi:d}"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogTemplate {
    pub source: String,
    pub parts: Vec<LogPart>,
}

/// What a hit whose condition holds (and that is not ignored) does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnHit {
    /// Stop every thread, as a plain breakpoint does.
    Stop,
    /// Write the line to the event log; never stops.
    Log(LogTemplate),
    /// Report the hit with the argument registers (`ptscope trace`); never stops.
    Trace,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HitRule {
    pub condition: Option<Condition>,
    /// Hits (with the condition true) to let pass before the action is taken.
    pub ignore: u64,
    pub action: OnHit,
}

impl HitRule {
    /// The rule of a plain breakpoint: stop at every hit. Such a breakpoint needs no rule.
    pub fn is_plain(&self) -> bool {
        self.condition.is_none() && self.ignore == 0 && self.action == OnHit::Stop
    }

    /// A hit of this rule may let the thread go on without stopping the others.
    pub fn may_pass(&self) -> bool {
        !self.is_plain()
    }
}

/// What the Breakpoints pane shows of a rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub condition: Option<String>,
    /// The ignore count as set, and what is left of it.
    pub ignore: u64,
    pub ignore_left: u64,
    pub log: Option<String>,
    pub trace: bool,
    /// Times a thread reached it and the condition was checked.
    pub checked: u64,
}

/// The decision for one hit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Stop the world (the hit is counted where plain hits are).
    Stop,
    /// The condition did not hold: not a hit.
    False,
    /// A hit let pass by the ignore count.
    Ignored,
    /// A logpoint's line.
    Log(String),
    /// A trace hit.
    Trace,
    /// The condition could not be evaluated: the world stops, with the reason.
    Error(String),
}

impl Verdict {
    pub fn stops(&self) -> bool {
        matches!(self, Verdict::Stop | Verdict::Error(_))
    }

    /// A hit that counts in the breakpoint's hit count without stopping.
    pub fn counts(&self) -> bool {
        matches!(self, Verdict::Ignored | Verdict::Log(_) | Verdict::Trace)
    }
}

struct Active {
    rule: HitRule,
    ignore_left: u64,
    checked: u64,
}

/// The rules of the breakpoints that have one, by address.
#[derive(Default)]
pub struct Rules {
    by_addr: BTreeMap<u64, Active>,
}

impl Rules {
    pub fn set(&mut self, addr: u64, rule: HitRule) {
        if rule.is_plain() {
            self.by_addr.remove(&addr);
            return;
        }
        let ignore_left = rule.ignore;
        self.by_addr.insert(
            addr,
            Active {
                rule,
                ignore_left,
                checked: 0,
            },
        );
    }

    pub fn remove(&mut self, addr: u64) {
        self.by_addr.remove(&addr);
    }

    pub fn clear(&mut self) {
        self.by_addr.clear();
    }

    pub fn has(&self, addr: u64) -> bool {
        self.by_addr.contains_key(&addr)
    }

    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    /// The addresses whose hits may let the thread go on.
    pub fn passing(&self) -> impl Iterator<Item = u64> + '_ {
        self.by_addr
            .iter()
            .filter(|(_, a)| a.rule.may_pass())
            .map(|(addr, _)| *addr)
    }

    /// Decides one hit at `addr` with the hitting thread's registers and memory in `env`.
    /// None: no rule, a plain stop.
    pub fn judge(&mut self, addr: u64, env: &dyn Env) -> Option<Verdict> {
        let a = self.by_addr.get_mut(&addr)?;
        a.checked += 1;
        if let Some(c) = &a.rule.condition {
            match eval(&c.expr, env) {
                Ok(0) => return Some(Verdict::False),
                Ok(_) => {}
                Err(e) => return Some(Verdict::Error(format!("condition `{}`: {e}", c.source))),
            }
        }
        if a.ignore_left > 0 {
            a.ignore_left -= 1;
            return Some(Verdict::Ignored);
        }
        Some(match &a.rule.action {
            OnHit::Stop => Verdict::Stop,
            OnHit::Log(t) => Verdict::Log(t.render(env)),
            OnHit::Trace => Verdict::Trace,
        })
    }

    pub fn info(&self, addr: u64) -> Option<RuleInfo> {
        let a = self.by_addr.get(&addr)?;
        let (log, trace) = match &a.rule.action {
            OnHit::Stop => (None, false),
            OnHit::Log(t) => (Some(t.source.clone()), false),
            OnHit::Trace => (None, true),
        };
        Some(RuleInfo {
            condition: a.rule.condition.as_ref().map(|c| c.source.clone()),
            ignore: a.rule.ignore,
            ignore_left: a.ignore_left,
            log,
            trace,
            checked: a.checked,
        })
    }
}

impl LogTemplate {
    /// Reads `text`: literal text with `{EXPR}` or `{EXPR:d}` holes (`{{` and `}}` for braces);
    /// `bind` parses and binds each hole's expression.
    pub fn parse(
        text: &str,
        bind: &dyn Fn(&str) -> Result<Expr, ExprError>,
    ) -> Result<LogTemplate, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    lit.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    lit.push('}');
                }
                '{' => {
                    let mut hole = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => hole.push(c),
                            None => return Err(format!("log text: `{{{hole}` is not closed")),
                        }
                    }
                    let (src, decimal) = match hole.rsplit_once(':') {
                        Some((e, "d")) => (e, true),
                        Some((e, "x")) => (e, false),
                        _ => (hole.as_str(), false),
                    };
                    let expr = bind(src).map_err(|e| format!("log text `{{{hole}}}`: {e}"))?;
                    if !lit.is_empty() {
                        parts.push(LogPart::Text(std::mem::take(&mut lit)));
                    }
                    parts.push(LogPart::Value { expr, decimal });
                }
                '}' => return Err("log text: a lone `}` (write `}}`)".into()),
                c => lit.push(c),
            }
        }
        if !lit.is_empty() {
            parts.push(LogPart::Text(lit));
        }
        Ok(LogTemplate {
            source: text.to_string(),
            parts,
        })
    }

    /// The line for one hit; a hole that cannot be evaluated shows why, in angle brackets.
    pub fn render(&self, env: &dyn Env) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                LogPart::Text(t) => out.push_str(t),
                LogPart::Value { expr, decimal } => match eval(expr, env) {
                    Ok(v) if *decimal => out.push_str(&v.to_string()),
                    Ok(v) => out.push_str(&format!("{v:#x}")),
                    Err(e) => out.push_str(&format!("<{e}>")),
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{parse, Width};

    struct Regs {
        rdi: u64,
    }

    impl Env for Regs {
        fn register(&self, name: &str) -> Option<Result<u64, ExprError>> {
            (name == "rdi").then_some(Ok(self.rdi))
        }
        fn symbol(&self, _: Option<&str>, name: &str) -> Result<u64, ExprError> {
            Err(ExprError::UnknownSymbol(name.into()))
        }
        fn read(&self, addr: u64, width: Width) -> Result<u64, ExprError> {
            if addr == 0x1000 {
                Ok(0x2a)
            } else {
                Err(ExprError::Memory {
                    addr,
                    size: width.bytes() as u8,
                    reason: "unmapped".into(),
                })
            }
        }
    }

    fn cond(text: &str) -> Option<Condition> {
        Some(Condition {
            source: text.into(),
            expr: parse(text).unwrap(),
        })
    }

    #[test]
    fn condition_ignore_and_actions() {
        let mut r = Rules::default();
        r.set(
            0x10,
            HitRule {
                condition: cond("rdi % 3 == 0"),
                ignore: 2,
                action: OnHit::Stop,
            },
        );
        let verdicts: Vec<Verdict> = (0..8)
            .map(|rdi| r.judge(0x10, &Regs { rdi }).unwrap())
            .collect();
        use Verdict::*;
        assert_eq!(
            verdicts,
            [Ignored, False, False, Ignored, False, False, Stop, False]
        );
        let info = r.info(0x10).unwrap();
        assert_eq!((info.checked, info.ignore, info.ignore_left), (8, 2, 0));
        assert_eq!(r.judge(0x20, &Regs { rdi: 0 }), None, "no rule: plain");
        r.set(
            0x10,
            HitRule {
                condition: None,
                ignore: 0,
                action: OnHit::Stop,
            },
        );
        assert!(!r.has(0x10), "a plain rule is no rule");
    }

    #[test]
    fn a_condition_that_cannot_be_evaluated_stops_with_the_reason() {
        let mut r = Rules::default();
        r.set(
            1,
            HitRule {
                condition: cond("*rdi == 1"),
                ignore: 0,
                action: OnHit::Trace,
            },
        );
        match r.judge(1, &Regs { rdi: 8 }) {
            Some(Verdict::Error(e)) => assert!(e.contains("*rdi == 1") && e.contains("0x8"), "{e}"),
            other => panic!("{other:?}"),
        }
        assert!(Verdict::Error(String::new()).stops());
        assert_eq!(r.judge(1, &Regs { rdi: 0x1000 }), Some(Verdict::False));
    }

    #[test]
    fn log_templates_fill_their_holes() {
        let bind = |s: &str| parse(s);
        let t = LogTemplate::parse("x={rdi} *x={*(rdi):d} {{lit}} {*(rdi+8)}", &bind).unwrap();
        assert_eq!(
            t.render(&Regs { rdi: 0x1000 }),
            "x=0x1000 *x=42 {lit} <cannot read 8 bytes at 0x1008: unmapped>"
        );
        assert!(LogTemplate::parse("open {rdi", &bind).is_err());
        assert!(LogTemplate::parse("a } b", &bind).is_err());
        assert!(LogTemplate::parse("{+}", &bind)
            .unwrap_err()
            .contains("{+}"));
    }
}
