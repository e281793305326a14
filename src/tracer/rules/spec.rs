//! The text form of a breakpoint, as the `b` prompt and `ptscope trace` take it:
//!
//! ```text
//! LOCATION [if EXPR] [ignore N] [log "TEXT {EXPR} {EXPR:d}"]
//! ```
//!
//! The clauses may come in any order, each at most once; `if`, `ignore` and `log` are keywords
//! only as whole words after the location. The log text is quoted (`\"`, `\\`, `\n`, `\t`
//! inside), or, unquoted, runs to the end of the line. Only the split is done here: what the
//! location and the expressions mean is worked out where the symbols are.

/// A breakpoint as typed, split into its clauses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    pub location: String,
    pub condition: Option<String>,
    pub ignore: u64,
    pub log: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Clause {
    Location,
    If,
    Ignore,
}

pub fn parse(text: &str) -> Result<Spec, String> {
    let mut spec = Spec::default();
    let mut clause = Clause::Location;
    let mut current = String::new();
    let mut seen_ignore = false;
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        let after = rest[end..].trim_start();
        // A keyword only once the location has begun: a function may be named `log`.
        let keyword = clause != Clause::Location || !current.is_empty() || spec.log.is_some();
        match word {
            "if" | "ignore" | "log" if keyword => {
                finish(&mut spec, clause, &mut current)?;
                match word {
                    "if" if spec.condition.is_some() => return Err("`if` given twice".into()),
                    "if" => clause = Clause::If,
                    "ignore" if seen_ignore => return Err("`ignore` given twice".into()),
                    "ignore" => {
                        seen_ignore = true;
                        clause = Clause::Ignore;
                    }
                    _ => {
                        if spec.log.is_some() {
                            return Err("`log` given twice".into());
                        }
                        let (log, left) = log_text(after)?;
                        spec.log = Some(log);
                        rest = left.trim_start();
                        clause = Clause::Location;
                        // Whatever follows must be another clause.
                        current.clear();
                        if !rest.is_empty() && !starts_with_keyword(rest) {
                            return Err(format!("unexpected text after the log text: `{rest}`"));
                        }
                        continue;
                    }
                }
            }
            _ => {
                if !current.is_empty() {
                    current.push(' ');
                }
                current.push_str(word);
            }
        }
        rest = after;
    }
    finish(&mut spec, clause, &mut current)?;
    if spec.location.is_empty() {
        return Err("no location: type an address or a function name first".into());
    }
    Ok(spec)
}

fn starts_with_keyword(s: &str) -> bool {
    let w = s.split_whitespace().next().unwrap_or("");
    matches!(w, "if" | "ignore" | "log")
}

fn finish(spec: &mut Spec, clause: Clause, current: &mut String) -> Result<(), String> {
    let text = std::mem::take(current);
    match clause {
        Clause::Location => {
            if !text.is_empty() {
                spec.location = text;
            }
        }
        Clause::If if text.is_empty() => return Err("`if` needs an expression".into()),
        Clause::If => spec.condition = Some(text),
        Clause::Ignore => {
            spec.ignore = crate::expr::parse_number(&text)
                .map_err(|_| format!("`ignore` needs a count, not `{text}`"))?;
        }
    }
    Ok(())
}

/// The log text at the start of `s`, and what follows it.
fn log_text(s: &str) -> Result<(String, &str), String> {
    let Some(body) = s.strip_prefix('"') else {
        if s.is_empty() {
            return Err("`log` needs a text".into());
        }
        return Ok((s.trim_end().to_string(), ""));
    };
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &body[i + 1..])),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(c @ ('"' | '\\')) => out.push(c),
                Some(c) => {
                    out.push('\\');
                    out.push(c);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("the log text's quote is not closed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_in_any_order() {
        assert_eq!(
            parse("ptscope_lab_hot").unwrap(),
            Spec {
                location: "ptscope_lab_hot".into(),
                ..Spec::default()
            }
        );
        let s = parse("read+0x10 if rdi == 3 && *(u32*)rsi > 2 ignore 5").unwrap();
        assert_eq!(s.location, "read+0x10");
        assert_eq!(s.condition.as_deref(), Some("rdi == 3 && *(u32*)rsi > 2"));
        assert_eq!(s.ignore, 5);
        let s = parse(r#"libc.so.6!write log "fd {rdi} \"{*rsi:d}\"" if rdx > 0"#).unwrap();
        assert_eq!(s.location, "libc.so.6!write");
        assert_eq!(s.log.as_deref(), Some(r#"fd {rdi} "{*rsi:d}""#));
        assert_eq!(s.condition.as_deref(), Some("rdx > 0"));
        let s = parse("0x401000 ignore 0x10 log unquoted {rdi} to the end").unwrap();
        assert_eq!(
            (s.ignore, s.log.as_deref()),
            (16, Some("unquoted {rdi} to the end"))
        );
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        assert!(parse("").unwrap_err().contains("no location"));
        assert!(parse("f if").unwrap_err().contains("needs an expression"));
        assert!(parse("f ignore many").unwrap_err().contains("count"));
        assert!(parse("f if a if b").unwrap_err().contains("twice"));
        assert!(parse("f log \"open").unwrap_err().contains("not closed"));
        assert!(parse("f log \"x\" junk").unwrap_err().contains("junk"));
        assert_eq!(parse("rsp - 8 if rdi").unwrap().location, "rsp - 8");
        // A function named like a keyword is still a location when it comes first.
        assert_eq!(parse("log if rdi").unwrap().location, "log");
    }
}
