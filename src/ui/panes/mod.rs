//! One file per pane. Each is a plain struct borrowing what it shows, drawn by a pure
//! `Widget` impl: no I/O, no locks, so snapshot tests render them from hand-made models.

pub mod backtrace;
pub mod breakpoints;
pub mod code;
pub mod deadlock;
pub mod events;
pub mod groups;
pub mod help;
pub mod memory;
pub mod registers;
pub mod screen;
pub mod source;
pub mod status;
pub mod threads;

use super::theme;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

pub(crate) fn block(title: String, focused: bool) -> Block<'static> {
    let border = if focused {
        theme::BORDER_FOCUSED
    } else {
        theme::BORDER
    };
    Block::bordered()
        .border_style(border)
        .title(Line::from(Span::styled(format!(" {title} "), theme::TITLE)))
}

#[cfg(test)]
mod code_tests;
#[cfg(test)]
mod draw_support;
#[cfg(test)]
mod hung_tests;
#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod watch_tests;
