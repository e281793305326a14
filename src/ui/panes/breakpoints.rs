//! Our breakpoints with their hit counts; `d` deletes the selected one.

use super::block;
use crate::ui::app::{Focus, Model};
use crate::ui::layout::inner_height;
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

pub struct BreakpointsPane<'a> {
    pub model: &'a Model,
}

impl Widget for &BreakpointsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.model;
        let focused = m.focus == Focus::Breakpoints;
        let block = block(format!("Breakpoints ({})", m.breakpoints.len()), focused);
        let fit = inner_height(area).max(1);
        let first = (m.bp_selected + 1).saturating_sub(fit);
        let mut lines: Vec<Line> = m
            .breakpoints
            .iter()
            .enumerate()
            .skip(first)
            .take(fit)
            .map(|(i, b)| {
                let hits = if b.hits == 1 {
                    "1 hit".to_string()
                } else {
                    format!("{} hits", b.hits)
                };
                let line = Line::from(vec![
                    Span::styled(format!("{:<18}", format!("{:#x}", b.addr)), theme::ADDRESS),
                    Span::raw(hits),
                ]);
                if i == m.bp_selected && focused {
                    line.style(theme::SELECTED)
                } else {
                    line
                }
            })
            .collect();
        if lines.is_empty() {
            lines.push(Line::styled("none: press b to add one", theme::DIM));
        }
        Paragraph::new(lines).block(block).render(area, buf);
    }
}
