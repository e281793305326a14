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
        let rows = m.rows();
        let block = block(format!("Breakpoints ({})", rows.len()), focused);
        let fit = inner_height(area).max(1);
        let first = (m.selected + 1).saturating_sub(fit);
        let mut lines: Vec<Line> = rows
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
                let first = b.addrs.first().copied().unwrap_or(0);
                let mut spans = match &b.label {
                    Some(label) => {
                        let n = b.addrs.len();
                        let locations = if n == 1 {
                            format!(" {first:#x} ")
                        } else {
                            format!(" {n} locations ")
                        };
                        vec![
                            Span::styled(label.clone(), theme::HEADER),
                            Span::styled(locations, theme::ADDRESS),
                        ]
                    }
                    None => vec![Span::styled(format!("{first:#x} "), theme::ADDRESS)],
                };
                spans.push(Span::raw(format!("{hits:<9}")));
                spans.push(Span::styled(
                    self.names.get(first).unwrap_or("").to_string(),
                    theme::SYMBOL,
                ));
                let line = Line::from(spans);
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
