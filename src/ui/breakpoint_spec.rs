//! What the `b` prompt's text asks for beyond a location: `if EXPR`, `ignore N`, `log "..."`
//! (`tracer::rules::spec` splits the text). The expressions are parsed and their symbols bound
//! here, on the symbol worker, so that the tracer thread gets trees it can evaluate at every hit
//! with the hitting thread's registers and memory alone.

use super::msg::Msg;
use super::resolve::{Purpose, ResolveAsk};
use crate::expr::{self, Env, Expr, ExprError};
use crate::regs::Registers;
use crate::tracer::rules::spec::Spec;
use crate::tracer::rules::{Condition, LogTemplate};
use crate::tracer::{HitRule, OnHit};
use std::collections::BTreeMap;

/// The message that answers a prompt's `ask` whose location worked out to `result`: for a
/// breakpoint with a rule, the rule bound with `symbols` goes with it (or why it cannot be).
pub fn answer(ask: &ResolveAsk, result: Result<u64, ExprError>, symbols: &dyn Env) -> Msg {
    let (Purpose::BreakpointWith { spec, .. }, Ok(addr)) = (&ask.purpose, &result) else {
        return Msg::resolved(ask, result);
    };
    match bind_rule(spec, symbols, &ask.names) {
        Ok(rule) => Msg::Resolved {
            purpose: Purpose::BreakpointWith {
                spec: spec.clone(),
                rule: Some(Box::new(rule)),
            },
            text: ask.text.clone(),
            result: Ok(*addr),
        },
        Err(e) => Msg::resolved(ask, Err(e)),
    }
}

/// A spec that asks for more than a plain breakpoint.
pub fn is_plain(spec: &Spec) -> bool {
    spec.condition.is_none() && spec.ignore == 0 && spec.log.is_none()
}

/// The rule of `spec`, its names bound with the session's `names` and the process's `symbols`.
pub fn bind_rule(
    spec: &Spec,
    symbols: &dyn Env,
    names: &BTreeMap<String, u64>,
) -> Result<HitRule, ExprError> {
    let bind = |text: &str| -> Result<Expr, ExprError> {
        let parsed = expr::parse(text)?;
        let is_register = |n: &str| Registers::index_of(n).is_some();
        let symbol = |module: Option<&str>, name: &str| match (module, names.get(name)) {
            (None, Some(addr)) => Ok(*addr),
            _ => symbols.symbol(module, name),
        };
        expr::bind(&parsed, &is_register, &symbol)
    };
    let condition = match &spec.condition {
        Some(c) => Some(Condition {
            source: c.clone(),
            expr: bind(c)?,
        }),
        None => None,
    };
    let action = match &spec.log {
        Some(text) => {
            OnHit::Log(
                LogTemplate::parse(text, &bind).map_err(|what| ExprError::Syntax {
                    text: text.clone(),
                    at: 1,
                    what,
                })?,
            )
        }
        None => OnHit::Stop,
    };
    Ok(HitRule {
        condition,
        ignore: spec.ignore,
        action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::rules::spec;

    struct Syms;
    impl Env for Syms {
        fn symbol(&self, _: Option<&str>, name: &str) -> Result<u64, ExprError> {
            match name {
                "limit" => Ok(0x4000),
                _ => Err(ExprError::UnknownSymbol(name.into())),
            }
        }
    }

    #[test]
    fn the_b_prompt_sends_the_rule_and_the_pane_learns_it() {
        use crate::tracer::event::{Command, Reply};
        use crate::ui::fixtures::*;
        use crate::ui::model::StatusKind;
        let mut m = demo_model();
        let fx = type_prompt(
            &mut m,
            Msg::BreakpointPrompt,
            r#"read if rdi == 3 ignore 2 log "fd {rdi:d}""#,
            &FakeSymbols,
        );
        let cmds = commands(&fx);
        let [Command::AddBreakpointWith { addr, rule }] = cmds.as_slice() else {
            panic!("{cmds:?}");
        };
        assert_eq!(*addr, 0x7f00_0000_1000);
        assert_eq!(rule.ignore, 2);
        assert_eq!(rule.condition.as_ref().unwrap().source, "rdi == 3");
        assert!(matches!(&rule.action, OnHit::Log(t) if t.source == "fd {rdi:d}"));
        m.sent(7, cmds[0].clone());
        let after = reply(&mut m, 7, Ok(Reply::Done));
        assert!(m.breakpoints.addrs().any(|a| a == 0x7f00_0000_1000));
        assert!(m.status.line.clone().unwrap().text.contains("logpoint set"));
        assert_eq!(
            commands(&after),
            vec![Command::Snapshot],
            "the rule comes with it"
        );
        // A condition naming an unknown symbol, or a clause without its text: one line, no
        // command.
        for bad in ["read if rdi == nosuch", "read if", "read log \"open"] {
            let fx = type_prompt(&mut m, Msg::BreakpointPrompt, bad, &FakeSymbols);
            assert!(commands(&fx).is_empty(), "{bad}");
            assert_eq!(
                m.status.line.clone().unwrap().kind,
                StatusKind::Error,
                "{bad}"
            );
        }
    }

    #[test]
    fn names_are_bound_and_registers_kept() {
        let s =
            spec::parse(r#"hot if rdi > limit && rsi != demo ignore 2 log "n={rdi:d} at {limit}""#)
                .unwrap();
        assert!(!is_plain(&s));
        let mut names = BTreeMap::new();
        names.insert("demo".to_string(), 7);
        let r = bind_rule(&s, &Syms, &names).unwrap();
        let c = r.condition.unwrap();
        assert_eq!(c.source, "rdi > limit && rsi != demo");
        assert_eq!(expr::names(&c.expr), ["rdi", "rsi"]);
        assert_eq!(r.ignore, 2);
        match r.action {
            OnHit::Log(t) => assert_eq!(t.parts.len(), 4),
            other => panic!("{other:?}"),
        }
        let bad = spec::parse("hot if rdi == nosuch").unwrap();
        assert_eq!(
            bind_rule(&bad, &Syms, &names).unwrap_err(),
            ExprError::UnknownSymbol("nosuch".into())
        );
        assert!(is_plain(&spec::parse("hot").unwrap()));
    }
}
