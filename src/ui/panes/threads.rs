//! A row per thread: the one that stopped the process is marked, the selected one reversed.

use super::block;
use crate::tracer::signals::signal_name;
use crate::tracer::thread::ThreadState;
use crate::ui::app::{Focus, Model, ThreadRow};
use crate::ui::layout::inner_height;
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};

pub struct ThreadsPane<'a> {
    pub model: &'a Model,
}

/// The cause column as the issue spells it, plus what a debugger user would want to know.
pub fn cause_text(r: &ThreadRow) -> String {
    let mut s = if r.zombie {
        "zombie leader".to_string()
    } else {
        match (r.state, r.cause) {
            (ThreadState::Running, _) | (ThreadState::Stepping, _) => String::new(),
            (_, Some(c)) => c.to_string(),
            (_, None) => String::new(),
        }
    };
    if let Some(sig) = r.pending_signal {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&format!("(holds {})", signal_name(sig)));
    }
    s
}

impl Widget for &ThreadsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.model;
        let title = format!("Threads ({})", m.threads.len());
        let block = block(title, m.focus == Focus::Threads);
        let rows_fit = inner_height(area).saturating_sub(1);
        let offset = m.visible_offset(rows_fit);
        let rows = m.threads.values().skip(offset).take(rows_fit).map(|r| {
            let marked = m.stopped_by == Some(r.tid);
            let pc = match r.regs {
                Some(regs) => format!("{:#x}", regs.rip()),
                None => "-".to_string(),
            };
            let pc_style = if r.state == ThreadState::Running {
                theme::DIM
            } else {
                theme::ADDRESS
            };
            let row = Row::new(vec![
                Cell::from(Span::styled(if marked { ">" } else { " " }, theme::MARK)),
                Cell::from(r.tid.to_string()),
                Cell::from(r.name.clone()),
                Cell::from(Span::styled(r.state.name(), theme::thread_state(r.state))),
                Cell::from(cause_text(r)),
                Cell::from(Span::styled(pc, pc_style)),
                Cell::from(Span::styled(
                    r.regs
                        .and_then(|g| m.pc_name(g.rip()))
                        .unwrap_or("")
                        .to_string(),
                    pc_style,
                )),
            ]);
            if m.selected == Some(r.tid) {
                row.style(theme::SELECTED)
            } else {
                row
            }
        });
        let header =
            Row::new(["", "TID", "NAME", "STATE", "CAUSE", "PC", "IN"]).style(theme::HEADER);
        let widths = [
            Constraint::Length(1),
            Constraint::Length(7),
            Constraint::Length(15),
            Constraint::Length(8),
            Constraint::Length(26),
            Constraint::Length(14),
            Constraint::Fill(1),
        ];
        let table = Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .block(block);
        Widget::render(table, area, buf);
        if m.threads.is_empty() && area.height > 3 {
            let inner = Rect {
                x: area.x + 2,
                y: area.y + 2,
                width: area.width.saturating_sub(4),
                height: 1,
            };
            Line::styled("waiting for the tracer...", theme::DIM).render(inner, buf);
        }
    }
}
