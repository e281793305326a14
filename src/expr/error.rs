//! What can go wrong reading or evaluating an expression: one line each, fit for a status bar.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ExprError {
    #[error("empty expression: type an address, a register or a name")]
    Empty,
    /// `at` counts characters from 1.
    #[error("`{text}`: {what} at column {at}")]
    Syntax {
        text: String,
        at: usize,
        what: String,
    },
    #[error("`{0}` is not a number (write hex as 0x...)")]
    BadNumber(String),
    #[error("`{0}` does not fit in 64 bits")]
    TooLarge(String),
    #[error("{0}: the selected thread has no registers (it must be stopped)")]
    NoRegisters(String),
    #[error("no symbol named `{0}`")]
    UnknownSymbol(String),
    #[error("no module `{0}` is mapped")]
    UnknownModule(String),
    #[error("`{name}` is defined in several places; say which: {}", candidates.join(", "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
    /// The symbol tables could not be read at all.
    #[error("no symbols: {0}")]
    NoSymbols(String),
    #[error("cannot read {size} bytes at {addr:#x}: {reason}")]
    Memory { addr: u64, size: u8, reason: String },
    #[error("division by zero")]
    DivideByZero,
}
