//! A row per thread: ptscope's view (state, stop cause, PC and the function it is in), what
//! the analysis says it waits on (WAITS), and the kernel's view (scheduler state, wait
//! channel, blocked system call, CPU time). The thread that stopped the process is marked `>`,
//! the threads of a deadlock `!`, the selected one reversed. With `G` the rows are stack
//! groups that open to their threads (`groups.rs` draws those lines).
//!
//! Columns are as wide as what they show this frame; when the pane is too narrow the least
//! needed ones go first (the raw PC, which the registers pane also shows; then wchan, the
//! function name, and last WAITS).

use super::block;
use super::groups::{group_line, GroupTitle};
use crate::text::clip;
use crate::tracer::event::ProcessState;
use crate::tracer::signals::signal_name;
use crate::tracer::thread::ThreadState;
use crate::ui::inspect::{cpu_text, fit_call};
use crate::ui::layout::inner_height;
use crate::ui::model::groups::{visible_offset, Grouping, Line as GroupedLine};
use crate::ui::model::{GroupsModel, ThreadRow, ThreadsModel, WaitsModel};
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, Widget};

pub struct ThreadsPane<'a> {
    pub threads: &'a ThreadsModel,
    pub waits: &'a WaitsModel,
    pub groups: &'a GroupsModel,
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
    Waits,
    KState,
    Wchan,
    Syscall,
    Cpu,
}

/// Widest each column may grow to; SYSCALL takes whatever is left.
fn cap(c: Col) -> usize {
    match c {
        Col::Mark => 2,
        Col::KState => 1,
        Col::Tid => 7,
        Col::Name => 15,
        Col::State => 8,
        Col::Cause => 26,
        Col::Pc => 14,
        Col::In => 24,
        Col::Waits => 48,
        Col::Wchan => 18,
        Col::Syscall => usize::MAX,
        Col::Cpu => 6,
    }
}

/// The system call column is worth this much before the optional columns are.
const SYSCALL_MIN: usize = 18;
/// ... and this much beside WAITS (`futex(...)`), which says more.
const SYSCALL_MIN_BESIDE_WAITS: usize = 10;
/// Narrower than this, WAITS goes.
const WAITS_MIN: usize = 16;

fn header(c: Col) -> &'static str {
    match c {
        Col::Mark => "",
        Col::Tid => "TID",
        Col::Name => "NAME",
        Col::State => "STATE",
        Col::Cause => "CAUSE",
        Col::Pc => "PC",
        Col::In => "IN",
        Col::Waits => "WAITS",
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

fn cells(m: &ThreadsModel, w: &WaitsModel, r: &ThreadRow) -> Cells {
    let marked = m.stopped_by == Some(r.tid);
    let deadlocked = w.deadlocked(r.tid);
    let mark = match (marked, deadlocked) {
        (true, true) => ">!",
        (false, true) => " !",
        (true, false) => ">",
        (false, false) => " ",
    };
    let pc_style = if r.state == ThreadState::Running {
        theme::DIM
    } else {
        theme::ADDRESS
    };
    let k = m.kernel.get(&r.tid);
    let text = vec![
        mark.to_string(),
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
        w.cell(r.tid).map(|c| c.text.clone()).unwrap_or_default(),
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
        if deadlocked {
            theme::MARK
        } else {
            Style::new()
        },
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

const ALL: [Col; 12] = [
    Col::Mark,
    Col::Tid,
    Col::Name,
    Col::State,
    Col::Cause,
    Col::Pc,
    Col::In,
    Col::Waits,
    Col::KState,
    Col::Wchan,
    Col::Syscall,
    Col::Cpu,
];

/// Which columns are shown and how wide, for `inner` columns and these rows. WAITS is shown
/// only when some thread has a wait told.
fn plan(rows: &[&Cells], inner: usize, waits: bool) -> Vec<(usize, usize)> {
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
        .filter(|(i, _)| waits || ALL[*i] != Col::Waits)
        .collect();
    let used = |w: &[(usize, usize)]| -> usize {
        w.iter()
            .filter(|(i, _)| ALL[*i] != Col::Syscall)
            .map(|(_, w)| w + 1)
            .sum()
    };
    // Beside WAITS, the system call is worth less: it gives up its room first.
    let syscall_min = if waits {
        SYSCALL_MIN_BESIDE_WAITS
    } else {
        SYSCALL_MIN
    };
    for drop in [Col::Pc, Col::Wchan, Col::In] {
        if used(&widths) + syscall_min <= inner {
            break;
        }
        widths.retain(|(i, _)| ALL[*i] != drop);
    }
    // Then WAITS narrows (its text cut with `~`), and goes when even that does not fit.
    let over = (used(&widths) + syscall_min).saturating_sub(inner);
    if let Some(k) = widths.iter().position(|(i, _)| ALL[*i] == Col::Waits) {
        let w = widths[k].1;
        if over > 0 && w.saturating_sub(over) >= WAITS_MIN {
            widths[k].1 = w - over;
        } else if over > 0 {
            widths.remove(k);
        }
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

/// A line of the table: a thread's row, or a stack group's (drawn over a blank row).
enum PaneLine {
    Thread { cells: Cells, selected: bool },
    Group { title: GroupTitle, selected: bool },
}

impl ThreadsPane<'_> {
    fn title(&self) -> String {
        let n = self.threads.rows.len();
        match self.groups.grouping {
            Grouping::Off => format!("Threads ({n})"),
            Grouping::NextStop => format!("Threads ({n}) grouped by stack at the next stop"),
            Grouping::Walking { threads } => {
                format!("Threads ({n}) grouping: unwinding {threads} threads...")
            }
            Grouping::Shown => {
                let k = self.groups.view.as_ref().map_or(0, |v| v.groups.len());
                let when = if self.process == ProcessState::Running {
                    ", as of the last stop"
                } else {
                    ""
                };
                format!("Threads ({n}) in {k} stack groups{when}: Enter opens, Left closes")
            }
        }
    }

    /// The lines in view, `rows` of them at most.
    fn lines(&self, rows: usize) -> Vec<PaneLine> {
        let m = self.threads;
        if !self.groups.showing() {
            let offset = m.visible_offset(rows);
            return m
                .rows
                .values()
                .skip(offset)
                .take(rows)
                .map(|r| PaneLine::Thread {
                    cells: cells(m, self.waits, r),
                    selected: m.selected == Some(r.tid),
                })
                .collect();
        }
        let shown = self.groups.shown(&m.rows);
        let all = GroupsModel::lines(&shown);
        let cur = self.groups.cursor_index(&shown, &all, m.selected);
        let off = visible_offset(self.groups.offset, cur, rows, all.len());
        all.iter()
            .enumerate()
            .skip(off)
            .take(rows)
            .filter_map(|(k, l)| {
                Some(match l {
                    GroupedLine::Group(i) => PaneLine::Group {
                        title: GroupTitle::new(&shown[*i], self.waits),
                        selected: k == cur,
                    },
                    GroupedLine::Thread { tid, .. } => {
                        let row = m.rows.get(tid)?;
                        PaneLine::Thread {
                            cells: cells(m, self.waits, row),
                            selected: k == cur,
                        }
                    }
                })
            })
            .collect()
    }
}

impl Widget for &ThreadsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.threads;
        let block = block(self.title(), self.focused).title_top(
            Line::styled(
                format!(" {} ", kernel_label(m, self.process)),
                theme::KERNEL,
            )
            .right_aligned(),
        );
        let rows_fit = inner_height(area).saturating_sub(1);
        let lines = self.lines(rows_fit);
        let refs: Vec<&Cells> = lines
            .iter()
            .filter_map(|l| match l {
                PaneLine::Thread { cells, .. } => Some(cells),
                PaneLine::Group { .. } => None,
            })
            .collect();
        let cols = plan(
            &refs,
            area.width.saturating_sub(2) as usize,
            self.waits.any(),
        );
        let pc_shown = cols.iter().any(|(i, _)| ALL[*i] == Col::Pc);
        let rows = lines.iter().map(|l| match l {
            PaneLine::Thread {
                cells: c, selected, ..
            } => {
                let row = Row::new(cols.iter().map(|(i, w)| {
                    let text = match ALL[*i] {
                        Col::Syscall => fit_call(&c.text[*i], *w),
                        // Without its own column, an unnamed PC is still shown.
                        Col::In if !pc_shown && c.text[*i].is_empty() => c.text[PC].clone(),
                        Col::Waits => clip(&c.text[*i], *w),
                        _ => c.text[*i].clone(),
                    };
                    Cell::from(Span::styled(text, c.styles[*i]))
                }));
                if *selected {
                    row.style(theme::SELECTED)
                } else {
                    row
                }
            }
            PaneLine::Group { .. } => Row::new(cols.iter().map(|_| Cell::from(""))),
        });
        // Only closed groups in view: no column has anything under it.
        let header = if refs.is_empty() && self.groups.showing() {
            Row::new(cols.iter().map(|_| ""))
        } else {
            Row::new(cols.iter().map(|(i, _)| header(ALL[*i]))).style(theme::HEADER)
        };
        let widths: Vec<Constraint> = cols
            .iter()
            .map(|(_, w)| Constraint::Length(*w as u16))
            .collect();
        let table = Table::new(rows, widths)
            .header(header)
            .column_spacing(1)
            .block(block);
        Widget::render(table, area, buf);
        // Group lines span the columns: drawn over their blank rows.
        for (k, l) in lines.iter().enumerate() {
            if let PaneLine::Group { title, selected } = l {
                let r = Rect {
                    x: area.x + 1,
                    y: area.y + 2 + k as u16,
                    width: area.width.saturating_sub(2),
                    height: 1,
                };
                if r.y + 1 < area.y + area.height {
                    group_line(title, *selected).render(r, buf);
                }
            }
        }
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
