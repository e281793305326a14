//! Every state transition the tracer reported, newest at the bottom, with the raw wait status
//! decoded: the pane that shows how ptrace and NPTL threads behave.

use super::block;
use crate::tracer::thread::StopCause;
use crate::ui::layout::inner_height;
use crate::ui::model::{LogBody, LogLine, LogModel, PcNames};
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

pub struct EventsPane<'a> {
    pub log: &'a LogModel,
    pub names: &'a PcNames,
    pub focused: bool,
}

pub fn log_line(l: &LogLine, names: &PcNames) -> Line<'static> {
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
            let l_cause = *cause;
            spans.push(Span::styled(
                format!("{:>8}", old.name()),
                theme::thread_state(*old),
            ));
            spans.push(Span::raw(" -> "));
            spans.push(Span::styled(
                format!("{:<8}", new.name()),
                theme::thread_state(*new),
            ));
            let mut cause = cause.map(|c| c.to_string()).unwrap_or_default();
            if let Some(StopCause::Breakpoint { addr }) = l_cause {
                if let Some(name) = names.get(addr) {
                    cause.push_str(&format!(" <{name}>"));
                }
            }
            spans.push(Span::raw(format!(" {cause:<25}")));
            if let Some(s) = status {
                spans.push(Span::styled(format!(" {s}"), theme::ADDRESS));
            }
            if !note.is_empty() {
                spans.push(Span::styled(format!("  ({note})"), theme::DIM));
            }
        }
        LogBody::Text(t) => spans.push(Span::raw(t.clone())),
        LogBody::Watch(hit) => spans.push(Span::styled(
            hit.describe(names.get(hit.pc)),
            theme::CHANGED,
        )),
    }
    Line::from(spans)
}

impl Widget for &EventsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let log = self.log;
        let mut title = format!("Event log ({})", log.lines.len());
        if log.back > 0 {
            title.push_str(&format!(" - {} newer below, End follows", log.back));
        }
        let block = block(title, self.focused);
        let fit = inner_height(area);
        let end = log.lines.len().saturating_sub(log.back);
        let start = end.saturating_sub(fit);
        let lines: Vec<Line> = log
            .lines
            .range(start..end)
            .map(|l| log_line(l, self.names))
            .collect();
        Paragraph::new(lines).block(block).render(area, buf);
    }
}
