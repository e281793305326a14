//! Every state transition the tracer reported, newest at the bottom, with the raw wait status
//! decoded: the pane that shows how ptrace and NPTL threads behave.

use super::block;
use crate::ui::app::{Focus, LogBody, LogLine, Model};
use crate::ui::layout::inner_height;
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

pub struct EventsPane<'a> {
    pub model: &'a Model,
}

pub fn log_line(l: &LogLine) -> Line<'static> {
    let mut spans = vec![
        Span::styled(format!("{:>9.3} ", l.at.as_secs_f64()), theme::DIM),
        Span::raw(match l.tid {
            Some(t) => format!("{t:>7} "),
            None => format!("{:>7} ", "-"),
        }),
    ];
    match &l.body {
        LogBody::Transition {
            old,
            new,
            cause,
            status,
            note,
        } => {
            spans.push(Span::styled(
                format!("{:>8}", old.name()),
                theme::thread_state(*old),
            ));
            spans.push(Span::raw(" -> "));
            spans.push(Span::styled(
                format!("{:<8}", new.name()),
                theme::thread_state(*new),
            ));
            let cause = cause.map(|c| c.to_string()).unwrap_or_default();
            spans.push(Span::raw(format!(" {cause:<25}")));
            if let Some(s) = status {
                spans.push(Span::styled(format!(" {s}"), theme::ADDRESS));
            }
            if !note.is_empty() {
                spans.push(Span::styled(format!("  ({note})"), theme::DIM));
            }
        }
        LogBody::Text(t) => spans.push(Span::raw(t.clone())),
    }
    Line::from(spans)
}

impl Widget for &EventsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.model;
        let mut title = format!("Event log ({})", m.log.len());
        if m.log_back > 0 {
            title.push_str(&format!(" - {} newer below, End follows", m.log_back));
        }
        let block = block(title, m.focus == Focus::Log);
        let fit = inner_height(area);
        let end = m.log.len().saturating_sub(m.log_back);
        let start = end.saturating_sub(fit);
        let lines: Vec<Line> = m.log.range(start..end).map(log_line).collect();
        Paragraph::new(lines).block(block).render(area, buf);
    }
}
