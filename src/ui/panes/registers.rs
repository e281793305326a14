//! The selected thread's 27 registers in two columns (rax..r13, then r14..orig_rax); the ones
//! its last run changed are highlighted.

use super::block;
use crate::regs::decode_eflags;
use crate::tracer::thread::ThreadState;
use crate::ui::model::ThreadRow;
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

pub struct RegistersPane<'a> {
    /// The selected thread.
    pub row: Option<&'a ThreadRow>,
    pub focused: bool,
}

impl Widget for &RegistersPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let row = self.row;
        let title = match row {
            Some(r) => format!("Registers {}", r.tid),
            None => "Registers".to_string(),
        };
        let block = block(title, self.focused);
        let mut lines: Vec<Line> = Vec::new();
        match row.and_then(|r| r.regs.map(|regs| (r, regs))) {
            None => {
                let why = match row {
                    None => "no thread selected",
                    Some(_) => "none yet: the thread has not stopped",
                };
                lines.push(Line::styled(why, theme::DIM));
            }
            Some((r, regs)) => {
                let stale = r.state != ThreadState::Stopped && r.state != ThreadState::Exiting;
                if stale {
                    lines.push(Line::styled(
                        format!("as of last stop ({})", r.state),
                        theme::DIM,
                    ));
                }
                let all: Vec<(usize, &str, u64)> = regs
                    .iter()
                    .enumerate()
                    .map(|(i, (n, v))| (i, n, v))
                    .collect();
                let half = all.len().div_ceil(2);
                let cell = |(i, name, v): (usize, &str, u64)| {
                    let changed = r.prev_regs.is_some_and(|p| p.0[i] != v);
                    let style = if changed {
                        theme::CHANGED
                    } else if stale {
                        theme::DIM
                    } else {
                        ratatui::style::Style::new()
                    };
                    [
                        Span::styled(format!("{name:<8} "), theme::HEADER),
                        Span::styled(format!("{v:#018x}"), style),
                    ]
                };
                for row in 0..half {
                    let mut spans: Vec<Span> = cell(all[row]).into();
                    if let Some(right) = all.get(row + half) {
                        spans.push(Span::raw(" "));
                        spans.extend(cell(*right));
                    }
                    lines.push(Line::from(spans));
                }
                lines.push(Line::from(vec![
                    Span::styled("flags    ", theme::HEADER),
                    Span::raw(decode_eflags(regs.eflags())),
                ]));
            }
        }
        Paragraph::new(lines).block(block).render(area, buf);
    }
}
