//! A row per thread: ptscope's view (state, stop cause, PC and the function it is in) beside
//! the kernel's (scheduler state, wait channel, blocked system call, CPU time). The thread that
//! stopped the process is marked, the selected one reversed.
//!
//! Columns are as wide as what they show this frame; when the pane is too narrow the least
//! needed ones go first (the raw PC, which the registers pane also shows; then wchan).

use super::block;
use crate::tracer::event::ProcessState;
use crate::tracer::signals::signal_name;
use crate::tracer::thread::ThreadState;
use crate::ui::inspect::{cpu_text, fit_call};
use crate::ui::layout::inner_height;
use crate::ui::model::{ThreadRow, ThreadsModel};
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};

pub struct ThreadsPane<'a> {
    pub threads: &'a ThreadsModel,
    /// Whose moment the kernel columns describe depends on it.
    pub process: ProcessState,
    pub focused: bool,
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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Mark,
    Tid,
    Name,
    State,
    Cause,
    Pc,
    In,
    KState,
    Wchan,
    Syscall,
    Cpu,
}

/// Widest each column may grow to; SYSCALL takes whatever is left.
fn cap(c: Col) -> usize {
    match c {
        Col::Mark | Col::KState => 1,
        Col::Tid => 7,
        Col::Name => 15,
        Col::State => 8,
        Col::Cause => 26,
        Col::Pc => 14,
        Col::In => 24,
        Col::Wchan => 18,
        Col::Syscall => usize::MAX,
        Col::Cpu => 6,
    }
}

/// The system call column is worth this much before the optional columns are.
const SYSCALL_MIN: usize = 18;

fn header(c: Col) -> &'static str {
    match c {
        Col::Mark => "",
        Col::Tid => "TID",
        Col::Name => "NAME",
        Col::State => "STATE",
        Col::Cause => "CAUSE",
        Col::Pc => "PC",
        Col::In => "IN",
        Col::KState => "K",
        Col::Wchan => "WCHAN",
        Col::Syscall => "SYSCALL",
        Col::Cpu => "CPU",
    }
}

struct Cells {
    text: Vec<String>,
    styles: Vec<Style>,
}

fn cells(m: &ThreadsModel, r: &ThreadRow) -> Cells {
    let marked = m.stopped_by == Some(r.tid);
    let pc_style = if r.state == ThreadState::Running {
        theme::DIM
    } else {
        theme::ADDRESS
    };
    let k = m.kernel.get(&r.tid);
    let text = vec![
        (if marked { ">" } else { " " }).to_string(),
        r.tid.to_string(),
        r.name.clone(),
        r.state.name().to_string(),
        cause_text(r),
        r.regs
            .map(|g| format!("{:#x}", g.rip()))
            .unwrap_or_else(|| "-".into()),
        r.regs
            .and_then(|g| m.names.get(g.rip()))
            .unwrap_or("")
            .to_string(),
        k.map(|k| k.state.to_string()).unwrap_or_else(|| "-".into()),
        k.and_then(|k| k.wchan.clone()).unwrap_or_default(),
        k.and_then(|k| k.call.clone()).unwrap_or_default(),
        k.map(|k| cpu_text(k.cpu_ms)).unwrap_or_default(),
    ];
    let styles = vec![
        theme::MARK,
        Style::new(),
        Style::new(),
        theme::thread_state(r.state),
        Style::new(),
        pc_style,
        pc_style,
        k.map(|k| theme::kernel_state(k.state))
            .unwrap_or(theme::DIM),
        theme::KERNEL,
        theme::KERNEL,
        theme::DIM,
    ];
    Cells { text, styles }
}

/// Index of the PC in `ALL` (and in each row's cells).
const PC: usize = 5;

const ALL: [Col; 11] = [
    Col::Mark,
    Col::Tid,
    Col::Name,
    Col::State,
    Col::Cause,
    Col::Pc,
    Col::In,
    Col::KState,
    Col::Wchan,
    Col::Syscall,
    Col::Cpu,
];

/// Which columns are shown and how wide, for `inner` columns and these rows.
fn plan(rows: &[&Cells], inner: usize) -> Vec<(usize, usize)> {
    let mut widths: Vec<(usize, usize)> = ALL
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let content = rows
                .iter()
                .map(|r| r.text[i].chars().count())
                .max()
                .unwrap_or(0);
            let head = header(*c).len();
            (i, content.max(head).min(cap(*c)))
        })
        .collect();
    let used = |w: &[(usize, usize)]| -> usize {
        w.iter()
            .filter(|(i, _)| ALL[*i] != Col::Syscall)
            .map(|(_, w)| w + 1)
            .sum()
    };
    for drop in [Col::Pc, Col::Wchan, Col::In] {
        if used(&widths) + SYSCALL_MIN <= inner {
            break;
        }
        widths.retain(|(i, _)| ALL[*i] != drop);
    }
    let left = inner.saturating_sub(used(&widths));
    for (i, w) in widths.iter_mut() {
        if ALL[*i] == Col::Syscall {
            *w = left;
        }
    }
    widths
}

/// Says whose moment K, WCHAN, SYSCALL and CPU describe: after our stop every thread would
/// read `t`, so while stopped they are the last reading taken while the process ran.
pub fn kernel_label(m: &ThreadsModel, process: ProcessState) -> &'static str {
    if m.kernel.is_empty() {
        "kernel view: none yet (read while the process runs)"
    } else if process == ProcessState::Running {
        "kernel view: live"
    } else {
        "kernel view (K WCHAN SYSCALL CPU): before the stop"
    }
}

impl Widget for &ThreadsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.threads;
        let title = format!("Threads ({})", m.rows.len());
        let block = block(title, self.focused).title_top(
            Line::styled(
                format!(" {} ", kernel_label(m, self.process)),
                theme::KERNEL,
            )
            .right_aligned(),
        );
        let rows_fit = inner_height(area).saturating_sub(1);
        let offset = m.visible_offset(rows_fit);
        let shown: Vec<(&ThreadRow, Cells)> = m
            .rows
            .values()
            .skip(offset)
            .take(rows_fit)
            .map(|r| (r, cells(m, r)))
            .collect();
        let refs: Vec<&Cells> = shown.iter().map(|(_, c)| c).collect();
        let cols = plan(&refs, area.width.saturating_sub(2) as usize);
        let pc_shown = cols.iter().any(|(i, _)| ALL[*i] == Col::Pc);
        let rows = shown.iter().map(|(r, c)| {
            let row = Row::new(cols.iter().map(|(i, w)| {
                let text = match ALL[*i] {
                    Col::Syscall => fit_call(&c.text[*i], *w),
                    // Without its own column, an unnamed PC is still shown.
                    Col::In if !pc_shown && c.text[*i].is_empty() => c.text[PC].clone(),
                    _ => c.text[*i].clone(),
                };
                Cell::from(Span::styled(text, c.styles[*i]))
            }));
            if m.selected == Some(r.tid) {
                row.style(theme::SELECTED)
            } else {
                row
            }
        });
        let header = Row::new(cols.iter().map(|(i, _)| header(ALL[*i]))).style(theme::HEADER);
        let widths: Vec<Constraint> = cols
            .iter()
            .map(|(_, w)| Constraint::Length(*w as u16))
            .collect();
        let table = Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .block(block);
        Widget::render(table, area, buf);
        if m.rows.is_empty() && area.height > 3 {
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
