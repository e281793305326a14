//! The selected thread's stack, innermost frame first: number, address, function+offset,
//! module, file:line. Unwound by the symbol thread while the process is stopped.

use super::block;
use crate::tracer::thread::Tid;
use crate::ui::inspect::BacktraceView;
use crate::ui::layout::inner_height;
use crate::ui::model::BacktraceModel;
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

pub struct BacktracePane<'a> {
    pub backtrace: &'a BacktraceModel,
    /// The selected thread, whose stack is shown.
    pub selected: Option<Tid>,
    /// The process holds still: a stack of this stop is current.
    pub stopped: bool,
    pub focused: bool,
}

fn frame_lines(
    bt: &BacktraceView,
    first: usize,
    fit: usize,
    dim: bool,
    selected: Option<usize>,
) -> Vec<Line<'static>> {
    let addr_w = bt
        .frames
        .iter()
        .map(|f| format!("{:#x}", f.pc).len())
        .max()
        .unwrap_or(0);
    let func_w = bt
        .frames
        .iter()
        .map(|f| f.function.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    let style = |s| if dim { theme::DIM } else { s };
    let mut lines: Vec<Line> = bt
        .frames
        .iter()
        .enumerate()
        .skip(first)
        .take(fit)
        .map(|(i, f)| {
            let mut spans = vec![
                Span::styled(format!("#{i:<2} "), theme::HEADER),
                Span::styled(
                    format!("{:>addr_w$} ", format!("{:#x}", f.pc)),
                    style(theme::ADDRESS),
                ),
                Span::styled(format!("{:<func_w$}", f.function), style(theme::SYMBOL)),
            ];
            if !f.module.is_empty() {
                spans.push(Span::styled(format!("  {}", f.module), theme::DIM));
            }
            if let Some(src) = &f.source {
                spans.push(Span::raw(format!("  {src}")));
            }
            if selected == Some(i) {
                Line::from(spans).style(theme::SELECTED)
            } else {
                Line::from(spans)
            }
        })
        .collect();
    if let Some(why) = &bt.ended {
        if lines.len() < fit && first + lines.len() >= bt.frames.len() {
            lines.push(Line::styled(
                format!("(stack walk ended: {why})"),
                theme::DIM,
            ));
        }
    }
    lines
}

impl Widget for &BacktracePane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.backtrace;
        let bt = m.get(self.selected);
        let current = bt.is_some_and(|b| m.is_current(b, self.stopped));
        let mut title = match (self.selected, bt) {
            (Some(tid), Some(b)) => format!("Backtrace {tid} ({} frames)", b.frames.len()),
            (Some(tid), None) => format!("Backtrace {tid}"),
            (None, _) => "Backtrace".to_string(),
        };
        if bt.is_some() && !current {
            title.push_str(" - as of last stop");
        }
        let fit = inner_height(area).max(1);
        let lines = match bt {
            Some(b) => {
                let first = m.offset.min(b.frames.len().saturating_sub(1));
                let selected = self.focused.then_some(m.selected);
                frame_lines(b, first, fit, !current, selected)
            }
            None => {
                let why = if self.selected.is_none() {
                    "no thread selected"
                } else if self.stopped {
                    "unwinding..."
                } else {
                    "shown when the process is stopped: press s"
                };
                vec![Line::styled(why, theme::DIM)]
            }
        };
        Paragraph::new(lines)
            .block(block(title, self.focused))
            .render(area, buf);
    }
}
