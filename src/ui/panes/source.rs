//! The source line the selected thread's pc is on, with the lines around it: the current line
//! marked `=>`, lines with a breakpoint `●`. The file is found and read by the symbol worker
//! (`symbols::source`); when it is not on this machine the pane says so.

use super::block;
use crate::tracer::thread::Tid;
use crate::ui::layout::inner_height;
use crate::ui::model::{CodeModel, SourceState};
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

pub struct SourcePane<'a> {
    pub code: &'a CodeModel,
    pub selected: Option<Tid>,
    /// The process holds still: the view of the stop is current.
    pub stopped: bool,
    pub focused: bool,
}

/// `src/demo/steps.rs` from `/work/ptscope/src/demo/steps.rs`: the last three components.
pub fn short_path(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    parts[parts.len().saturating_sub(3)..].join("/")
}

impl Widget for &SourcePane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.code;
        let view = m.view_of(self.selected);
        let at = view.and_then(|v| v.source.as_ref());
        let mut title = match at {
            Some(s) => format!(
                "Source {}:{}",
                crate::text::sanitize(&short_path(&s.path)),
                s.line
            ),
            None => "Source".to_string(),
        };
        if at.is_some() && !self.stopped {
            title.push_str(" - as of last stop");
        }
        let fit = inner_height(area).max(1);
        let dim = |t: String| vec![Line::styled(t, theme::DIM)];
        let mut wrap = true;
        let body = match (view, at) {
            (None, _) => dim("shown with the code of a stopped thread".into()),
            (Some(v), None) => dim(format!("no line information for {}", v.place)),
            (Some(_), Some(s)) => match m.sources.get(&s.path) {
                None | Some(SourceState::Reading) => dim(format!(
                    "reading {}...",
                    crate::text::sanitize(&short_path(&s.path))
                )),
                Some(SourceState::Missing(why)) => dim(why.clone()),
                Some(SourceState::Ready(file)) if s.line as usize > file.lines.len() => {
                    dim(format!(
                        "line {} is past the end of {} ({} lines): another version of the file?",
                        s.line,
                        file.found_at.display(),
                        file.lines.len()
                    ))
                }
                Some(SourceState::Ready(file)) => {
                    wrap = false;
                    let total = file.lines.len();
                    let cur = s.line as usize - 1;
                    let at = cur as isize - (fit / 3) as isize + m.source_scroll;
                    let first = at.clamp(0, total.saturating_sub(fit) as isize) as usize;
                    let num_w = (first + fit).min(total).to_string().len();
                    file.lines
                        .iter()
                        .enumerate()
                        .skip(first)
                        .take(fit)
                        .map(|(i, text)| {
                            let n = i as u32 + 1;
                            let here = i == cur;
                            let bp = s.breakpoint_lines.contains(&n);
                            let style = if here { theme::PC } else { Style::new() };
                            Line::from(vec![
                                Span::styled(if bp { "●" } else { " " }, theme::MARK),
                                Span::styled(if here { "=>" } else { "  " }, theme::PC),
                                Span::styled(format!("{n:>num_w$} "), theme::DIM),
                                Span::styled(text.clone(), style),
                            ])
                        })
                        .collect()
                }
            },
        };
        let mut p = Paragraph::new(body).block(block(title, self.focused));
        // Messages wrap (a long path says where it was looked for); source lines are cut.
        if wrap {
            p = p.wrap(Wrap { trim: false });
        }
        p.render(area, buf);
    }
}
