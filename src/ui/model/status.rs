//! The status bar's words: the result of the last key (a key that does not apply says why)
//! and the session's standing banner.

use crate::text::sanitize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    /// The end of a command the user gave (a step): what they asked to see, so the analysis's
    /// summary, which arrives later, does not replace it.
    Answer,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub kind: StatusKind,
}

#[derive(Clone, Debug, Default)]
pub struct StatusModel {
    pub line: Option<Status>,
    /// A line that stays (the demo's hot function address, where a launched program writes).
    pub banner: Option<String>,
}

impl StatusModel {
    pub fn info(&mut self, text: impl Into<String>) {
        self.line = Some(Status {
            text: text.into(),
            kind: StatusKind::Info,
        });
    }

    /// The end of a command the user gave (see `StatusKind::Answer`).
    pub fn answer(&mut self, text: impl Into<String>) {
        self.line = Some(Status {
            text: text.into(),
            kind: StatusKind::Answer,
        });
    }

    /// Errors often quote the target (names, paths): sanitised here.
    pub fn error(&mut self, text: impl Into<String>) {
        self.line = Some(Status {
            text: sanitize(&text.into()),
            kind: StatusKind::Error,
        });
    }
}
