//! What can go wrong turning names into addresses and back.

use crate::expr::ExprError;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SymbolError {
    #[error("no such process: {0}")]
    NoProcess(i32),
    #[error("cannot read the memory map of process {pid}: {reason}")]
    Maps { pid: i32, reason: String },
    #[error("cannot parse address expression `{0}`")]
    BadExpression(String),
    #[error("no symbol named `{0}`")]
    UnknownSymbol(String),
    #[error("no module `{0}` is mapped")]
    UnknownModule(String),
    #[error("`{name}` is defined in several places; say which: {}", candidates.join(", "))]
    Ambiguous {
        name: String,
        candidates: Vec<String>,
    },
    #[error("cannot evaluate `{text}`: {error}")]
    Eval { text: String, error: ExprError },
    #[error("address {addr:#x} is not in any mapping")]
    Unmapped { addr: u64 },
    #[error("no line table names a file ending in `{0}` (built without debug info?)")]
    NoSuchSourceFile(String),
    #[error("`{file}` names several files; say which: {}", candidates.join(", "))]
    AmbiguousFile {
        file: String,
        candidates: Vec<String>,
    },
    #[error("no code at or after line {line} of {file}")]
    NoCodeAtLine { file: String, line: u32 },
}
