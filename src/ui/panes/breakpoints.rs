//! Our breakpoints with their hit counts and the function each is in; `d` deletes the selected
//! one.

use super::block;
use crate::ui::layout::inner_height;
use crate::ui::model::{BreakpointsModel, PcNames};
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

pub struct BreakpointsPane<'a> {
    pub breakpoints: &'a BreakpointsModel,
    pub names: &'a PcNames,
    pub focused: bool,
}

impl Widget for &BreakpointsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.breakpoints;
        let focused = self.focused;
        let block = block(format!("Breakpoints ({})", m.list.len()), focused);
        let fit = inner_height(area).max(1);
        let first = (m.selected + 1).saturating_sub(fit);
        let mut lines: Vec<Line> = m
            .list
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
                    Span::styled(format!("{:#x} ", b.addr), theme::ADDRESS),
                    Span::raw(format!("{hits:<9}")),
                    Span::styled(
                        self.names.get(b.addr).unwrap_or("").to_string(),
                        theme::SYMBOL,
                    ),
                ]);
                if i == m.selected && focused {
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
