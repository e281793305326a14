//! The selected thread's code: the instructions around its pc, one a line with address, bytes
//! and text, function starts labelled, branch targets named, the pc marked `=>` and lines with
//! a breakpoint `●`. Decoded from the bytes the tracer read (never our int3).

use super::block;
use crate::tracer::thread::Tid;
use crate::ui::code_view::CodeView;
use crate::ui::layout::inner_height;
use crate::ui::model::{BreakpointsModel, CodeModel};
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

pub struct CodePane<'a> {
    pub code: &'a CodeModel,
    /// The selected thread and its pc, when it has registers.
    pub selected: Option<(Tid, Option<u64>)>,
    /// The process holds still: a view of its pc is current.
    pub stopped: bool,
    /// The user's breakpoints.
    pub breakpoints: &'a BreakpointsModel,
    pub focused: bool,
}

/// Room the text of an instruction keeps before bytes get any.
const TEXT_ROOM: usize = 30;
/// Fewer bytes than this are not worth their column.
const MIN_BYTES: usize = 4;

/// One row of the pane: a function's label, or an instruction.
enum Row<'a> {
    Label(&'a str),
    Insn(usize),
}

fn rows(v: &CodeView) -> Vec<Row<'_>> {
    let mut out = Vec::with_capacity(v.lines.len() + 2);
    for (i, l) in v.lines.iter().enumerate() {
        if let Some(label) = &l.label {
            out.push(Row::Label(label));
        }
        out.push(Row::Insn(i));
    }
    out
}

/// The first row to show in `fit` rows: a quarter of the pane before the pc, moved by the
/// user's scrolling, kept inside.
pub fn first_row(total: usize, pc_row: Option<usize>, fit: usize, scroll: isize) -> usize {
    let before = (fit / 4) as isize;
    let at = pc_row.map_or(0, |p| p as isize - before) + scroll;
    at.clamp(0, total.saturating_sub(fit) as isize) as usize
}

fn lines(
    p: &CodePane<'_>,
    v: &CodeView,
    width: usize,
    fit: usize,
    dim: bool,
) -> Vec<Line<'static>> {
    let all = rows(v);
    let pc_row = all
        .iter()
        .position(|r| matches!(r, Row::Insn(i) if v.lines[*i].addr == v.key.pc));
    let first = first_row(all.len(), pc_row, fit, p.code.scroll);
    let addr_w = v
        .lines
        .iter()
        .map(|l| format!("{:#x}", l.addr).len())
        .max()
        .unwrap_or(0);
    let room = width.saturating_sub(3 + addr_w + 1 + TEXT_ROOM);
    let nbytes = match (room / 3).min(8) {
        n if n < MIN_BYTES => 0,
        n => n,
    };
    let mut out = Vec::new();
    for r in all.iter().skip(first).take(fit) {
        match r {
            Row::Label(label) => {
                out.push(Line::styled(format!("{label}:"), theme::SYMBOL));
            }
            Row::Insn(i) => {
                let l = &v.lines[*i];
                let at_pc = l.addr == v.key.pc;
                let bp = p.breakpoints.addrs().any(|a| a == l.addr);
                let mut spans = vec![
                    Span::styled(if bp { "●" } else { " " }, theme::MARK),
                    Span::styled(if at_pc { "=>" } else { "  " }, theme::PC),
                    Span::styled(
                        format!("{:>addr_w$} ", format!("{:#x}", l.addr)),
                        theme::ADDRESS,
                    ),
                ];
                if nbytes > 0 {
                    let mut hex: Vec<String> = l
                        .bytes
                        .iter()
                        .take(nbytes)
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    if l.bytes.len() > nbytes {
                        hex.push("+".into());
                    }
                    let w = nbytes * 3 + 1;
                    spans.push(Span::styled(format!("{:<w$}", hex.join(" ")), theme::DIM));
                }
                let style = if at_pc {
                    theme::PC
                } else if dim {
                    theme::DIM
                } else {
                    ratatui::style::Style::new()
                };
                spans.push(Span::styled(l.text.clone(), style));
                out.push(Line::from(spans));
            }
        }
    }
    out
}

impl Widget for &CodePane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.code;
        let tid = self.selected.map(|(t, _)| t);
        let view = m.view_of(tid);
        let current =
            view.is_some_and(|v| self.stopped && self.selected.and_then(|s| s.1) == Some(v.key.pc));
        let mut title = match (tid, view) {
            (Some(t), Some(v)) => format!("Code {t} {} · {}", v.place, m.syntax.name()),
            (Some(t), None) => format!("Code {t} · {}", m.syntax.name()),
            (None, _) => "Code".to_string(),
        };
        if view.is_some() && !current {
            title.push_str(" - as of last stop");
        }
        let fit = inner_height(area).max(1);
        let width = area.width.saturating_sub(2) as usize;
        let mut body = match view {
            Some(v) => {
                let mut l = Vec::new();
                if let Some(note) = &v.note {
                    l.push(Line::styled(format!("({note})"), theme::DIM));
                }
                l.extend(lines(self, v, width, fit.saturating_sub(l.len()), !current));
                l
            }
            None => {
                let why = match self.selected {
                    None => "no thread selected".to_string(),
                    Some(_) if !self.stopped => "shown when the process is stopped: press s".into(),
                    Some((_, Some(pc))) => format!("reading the code at {pc:#x}..."),
                    Some((_, None)) => "no registers: the thread has not stopped".into(),
                };
                vec![Line::styled(why, theme::DIM)]
            }
        };
        body.truncate(fit);
        Paragraph::new(body)
            .block(block(title, self.focused))
            .render(area, buf);
    }
}
