//! Two lines at the bottom: process state, PID, command line and the last command's result;
//! then key hints (or the open prompt) and the session's banner.

use crate::tracer::event::ProcessState;
use crate::tracer::signals::signal_name;
use crate::ui::model::{ProcessModel, PromptKind, PromptModel, StatusKind, StatusModel};
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct StatusBar<'a> {
    pub process: &'a ProcessModel,
    pub status: &'a StatusModel,
    pub prompt: &'a PromptModel,
}

pub fn process_label(s: ProcessState) -> String {
    match s {
        ProcessState::Running => "RUNNING".into(),
        ProcessState::Stopping => "STOPPING".into(),
        ProcessState::Stopped => "STOPPED".into(),
        ProcessState::GroupStopped { sig } => {
            format!("GROUP-STOPPED {}", signal_name(sig))
        }
        ProcessState::Exited { status } => format!("EXITED {status}"),
        ProcessState::Detached => "DETACHED".into(),
    }
}

const HINTS: [(&str, &str); 10] = [
    ("s", "stop"),
    ("c", "cont"),
    ("n", "step"),
    ("b", "break"),
    ("d", "del"),
    ("g", "mem"),
    ("G", "group"),
    ("Tab", "focus"),
    ("?", "help"),
    ("q", "quit"),
];

impl Widget for &StatusBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let p = self.process;
        if area.height == 0 {
            return;
        }
        let state = Span::styled(
            format!(" {} ", process_label(p.state)),
            theme::process_state(p.state).add_modifier(ratatui::style::Modifier::REVERSED),
        );
        let how = if p.launched { "launched" } else { "attached" };
        let mut first = vec![
            state,
            Span::raw(format!(" pid {} ({how}) ", p.pid)),
            Span::styled(p.cmdline.clone(), theme::DIM),
        ];
        if let Some(s) = &self.status.line {
            let style = match s.kind {
                StatusKind::Info => theme::INFO,
                StatusKind::Error => theme::ERROR,
            };
            first.push(Span::raw("  "));
            first.push(Span::styled(s.text.clone(), style));
        }
        // The result of the last command matters more than the tail of a long command line.
        let line = fit_keeping_tail(first, area.width as usize);
        line.render(Rect { height: 1, ..area }, buf);
        if area.height < 2 {
            return;
        }
        let second = Rect {
            y: area.y + 1,
            height: 1,
            ..area
        };
        let line = match &self.prompt.current {
            Some(p) => {
                let label = match p.kind {
                    PromptKind::Breakpoint => " breakpoint address: ",
                    PromptKind::MemoryAddress => " memory address: ",
                };
                Line::from(vec![
                    Span::styled(label, theme::PROMPT),
                    Span::raw(format!(" {}", p.input)),
                    Span::styled(" ", theme::SELECTED),
                    Span::styled("   Enter accept, Esc cancel", theme::DIM),
                ])
            }
            None => {
                let mut spans = Vec::new();
                let full: usize = HINTS.iter().map(|(k, w)| k.len() + w.len() + 4).sum();
                let banner = self
                    .status
                    .banner
                    .as_ref()
                    .map_or(0, |b| b.chars().count() + 2);
                // Narrow terminals get the keys alone (`?` explains them), so the banner (an
                // address to type) is never cut.
                let terse = full + banner > area.width as usize;
                for (k, what) in HINTS {
                    spans.push(Span::styled(format!(" {k} "), theme::KEY));
                    spans.push(Span::raw(if terse {
                        " ".to_string()
                    } else {
                        format!(" {what} ")
                    }));
                }
                if terse {
                    spans.push(Span::raw("(? help) "));
                }
                if let Some(b) = &self.status.banner {
                    spans.push(Span::styled(format!("  {b}"), theme::ADDRESS));
                }
                Line::from(spans)
            }
        };
        line.render(second, buf);
    }
}

/// Shortens the command line (the third span) so the spans after it still fit.
fn fit_keeping_tail(mut spans: Vec<Span<'static>>, width: usize) -> Line<'static> {
    let total: usize = spans.iter().map(|s| s.width()).sum();
    if total > width && spans.len() > 3 {
        let over = total - width;
        let cmd = spans[2].content.to_string();
        let keep = cmd.chars().count().saturating_sub(over + 1);
        let short: String = cmd.chars().take(keep).collect();
        spans[2] = Span::styled(
            if keep == 0 {
                String::new()
            } else {
                format!("{short}~")
            },
            spans[2].style,
        );
    }
    Line::from(spans).style(Style::new())
}
