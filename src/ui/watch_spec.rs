//! What the `w` prompt's text means: an address expression, then options.
//!
//! ```text
//! counter            watch writes; the length (8, 4, 2 or 1 bytes) follows the alignment
//! counter r          reads or writes (x86 cannot watch reads alone)
//! rsp-8 len 4        4 bytes (1, 2, 4 or 8; the address must be a multiple of it)
//! counter r len 2
//! ```

use crate::tracer::debugregs::WatchKind;
use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchSpec {
    pub expr: String,
    pub kind: WatchKind,
    pub len: Option<u8>,
}

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum WatchSpecError {
    #[error("watch what? an address, a symbol or an expression, then r (reads too) or len N")]
    Empty,
    #[error("len takes 1, 2, 4 or 8 (bytes)")]
    BadLen,
}

pub fn parse(text: &str) -> Result<WatchSpec, WatchSpecError> {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let mut kind = WatchKind::Write;
    let mut len = None;
    loop {
        match words.as_slice() {
            [.., "len", n] => {
                let n: u8 = crate::expr::parse_number(n)
                    .ok()
                    .and_then(|n| u8::try_from(n).ok())
                    .filter(|n| [1, 2, 4, 8].contains(n))
                    .ok_or(WatchSpecError::BadLen)?;
                len = Some(n);
                words.truncate(words.len() - 2);
            }
            [.., "len"] => return Err(WatchSpecError::BadLen),
            [_, .., "r" | "rw"] => {
                kind = WatchKind::ReadWrite;
                words.pop();
            }
            [_, .., "w"] => {
                words.pop();
            }
            _ => break,
        }
    }
    if words.is_empty() {
        return Err(WatchSpecError::Empty);
    }
    Ok(WatchSpec {
        expr: words.join(" "),
        kind,
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_come_after_the_expression() {
        let spec = |expr: &str, kind, len| WatchSpec {
            expr: expr.into(),
            kind,
            len,
        };
        use WatchKind::*;
        let cases = [
            ("counter", spec("counter", Write, None)),
            ("  counter   r ", spec("counter", ReadWrite, None)),
            ("counter rw", spec("counter", ReadWrite, None)),
            ("rsp - 8 len 4", spec("rsp - 8", Write, Some(4))),
            ("counter r len 0x2", spec("counter", ReadWrite, Some(2))),
            ("counter len 8 r", spec("counter", ReadWrite, Some(8))),
            ("*(u64*)rsp w", spec("*(u64*)rsp", Write, None)),
            // A lone `r` is what to watch (a symbol named r), not an option.
            ("r", spec("r", Write, None)),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), Ok(want), "{text}");
        }
        assert_eq!(parse(""), Err(WatchSpecError::Empty));
        assert_eq!(parse("len 4"), Err(WatchSpecError::Empty));
        assert_eq!(parse("x len"), Err(WatchSpecError::BadLen));
        assert_eq!(parse("x len 3"), Err(WatchSpecError::BadLen));
        assert_eq!(parse("x len four"), Err(WatchSpecError::BadLen));
    }
}
