//! Our breakpoints with their hit counts and the function each is in (a `b FILE:LINE` of
//! several locations on one row), then the hardware watchpoints (debug register, kind, length,
//! hits, last value seen); `d` deletes the selected row.

use super::block;
use crate::tracer::debugregs::SLOTS;
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
        let mut title = format!("Breakpoints ({})", rows.len());
        if !m.watches.is_empty() {
            title.push_str(&format!("  watchpoints {}/{SLOTS}", m.watches.len()));
        }
        let block = block(title, focused);
        let fit = inner_height(area).max(1);
        let first = (m.selected + 1).saturating_sub(fit);
        let name = |addr: u64| {
            Span::styled(
                self.names.get(addr).unwrap_or("").to_string(),
                theme::SYMBOL,
            )
        };
        let breakpoints = rows.iter().map(|b| {
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
            spans.push(Span::raw(format!("{:<9}", hits(b.hits))));
            spans.push(name(first));
            if let Some(r) = &b.rule {
                spans.push(Span::styled(format!(" {}", rule_text(r)), theme::DIM));
            }
            Line::from(spans)
        });
        let watches = m.watches.iter().map(|w| {
            Line::from(vec![
                Span::styled(format!("DR{} ", w.slot), theme::HEADER),
                Span::styled(format!("{:#x} ", w.addr), theme::ADDRESS),
                Span::raw(format!("{:<2} {} ", w.kind.short(), w.len)),
                Span::raw(format!("{:<8}", hits(w.hits))),
                Span::raw(format!("= {:#x} ", w.value)),
                name(w.addr),
            ])
        });
        let mut lines: Vec<Line> = breakpoints
            .chain(watches)
            .enumerate()
            .skip(first)
            .take(fit)
            .map(|(i, line)| {
                if i == m.selected && focused {
                    line.style(theme::SELECTED)
                } else {
                    line
                }
            })
            .collect();
        if lines.is_empty() {
            lines.push(Line::styled(
                "none: b adds a breakpoint, w a watchpoint",
                theme::DIM,
            ));
        }
        Paragraph::new(lines).block(block).render(area, buf);
    }
}

/// `if rdi == 3 (checked 120) ignore 2/5 log "n={rdi}"`: the rule as typed, with what is left
/// of the ignore count. The texts are the user's own (sanitised all the same).
fn rule_text(r: &crate::tracer::RuleInfo) -> String {
    use crate::text::sanitize;
    let mut parts = Vec::new();
    if let Some(c) = &r.condition {
        parts.push(format!("if {} (checked {})", sanitize(c), r.checked));
    }
    if r.ignore > 0 {
        parts.push(format!("ignore {}/{}", r.ignore_left, r.ignore));
    }
    if let Some(l) = &r.log {
        parts.push(format!("log \"{}\"", sanitize(l)));
    }
    if r.trace {
        parts.push("trace".into());
    }
    parts.join(" ")
}

fn hits(n: u64) -> String {
    if n == 1 {
        "1 hit".to_string()
    } else {
        format!("{n} hits")
    }
}
