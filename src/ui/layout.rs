//! Where each pane goes for a terminal size, and how much each pane holds. Pure, so the model
//! sizes its memory reads and scroll windows with the same rectangles the renderer draws into.

use super::focus::Focus;
use ratatui::layout::{Constraint, Layout, Rect};

/// Below this every pane is shown.
pub const FULL_MIN: (u16, u16) = (100, 30);
/// Below this only a "terminal too small" notice fits.
pub const COMPACT_MIN: (u16, u16) = (40, 10);

/// Two columns of `name 0x%016x`: 27 characters each, a space between, and the borders.
pub const REGISTERS_WIDTH: u16 = 57;
/// 14 rows of registers, the flags, a line saying when they are from, and the borders.
const REGISTERS_HEIGHT: u16 = 18;
const STATUS_HEIGHT: u16 = 2;
/// From this height on every pane has a place of its own; below it the Memory pane takes the
/// code panes' place while it has the focus (it is a pane one asks for, with `g`).
pub const TALL: u16 = 48;
/// From this width of the left column on, code and source sit side by side.
const SIDE_BY_SIDE: u16 = 120;
/// The widest the code pane gets beside the source: address, bytes, instruction.
const CODE_WIDTH: u16 = 92;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Screen {
    pub threads: Option<Rect>,
    pub code: Option<Rect>,
    pub source: Option<Rect>,
    pub backtrace: Option<Rect>,
    pub registers: Option<Rect>,
    pub breakpoints: Option<Rect>,
    pub memory: Option<Rect>,
    pub log: Option<Rect>,
    pub status: Option<Rect>,
    /// Set when nothing else fits.
    pub too_small: Option<Rect>,
}

impl Screen {
    pub fn pane(&self, f: Focus) -> Option<Rect> {
        match f {
            Focus::Threads => self.threads,
            Focus::Code => self.code,
            Focus::Source => self.source,
            Focus::Backtrace => self.backtrace,
            Focus::Registers => self.registers,
            Focus::Breakpoints => self.breakpoints,
            Focus::Memory => self.memory,
            Focus::Log => self.log,
        }
    }

    /// Thread rows the table shows (its header takes a line).
    pub fn threads_rows(&self) -> usize {
        self.threads
            .map(inner_height)
            .unwrap_or(1)
            .saturating_sub(1)
            .max(1)
    }

    /// Lines of the memory pane; a hidden pane still reads a small page.
    pub fn memory_rows(&self) -> usize {
        self.memory.map(inner_height).unwrap_or(8).max(1)
    }

    /// Bytes on each line of the memory pane.
    pub fn memory_row_bytes(&self) -> usize {
        bytes_per_row(self.memory.map(|r| r.width.saturating_sub(2)).unwrap_or(0))
    }

    pub fn backtrace_rows(&self) -> usize {
        self.backtrace.map(inner_height).unwrap_or(1).max(1)
    }

    pub fn log_rows(&self) -> usize {
        self.log.map(inner_height).unwrap_or(1).max(1)
    }

    pub fn code_rows(&self) -> usize {
        self.code.map(inner_height).unwrap_or(1).max(1)
    }

    pub fn source_rows(&self) -> usize {
        self.source.map(inner_height).unwrap_or(1).max(1)
    }
}

/// `focus` matters only in the compact layout, which shows the threads and the focused pane;
/// `threads_lines` (the thread rows and the deadlock banner there are) only below `TALL`, where
/// the threads pane grows from its 8 rows to 12 for them.
pub fn compute(area: Rect, focus: Focus, threads_lines: usize) -> Screen {
    if area.width >= FULL_MIN.0 && area.height >= FULL_MIN.1 {
        full(area, focus, threads_lines)
    } else if area.width >= COMPACT_MIN.0 && area.height >= COMPACT_MIN.1 {
        compact(area, focus)
    } else {
        Screen {
            too_small: Some(area),
            ..Screen::default()
        }
    }
}

/// The threads table spans the width: with the kernel's view beside ptscope's it needs every
/// column. Below it on the left the selected thread's code and source, its backtrace, memory
/// and the log; its registers in two columns and the breakpoints on the right. Below `TALL`
/// the Memory pane shows in the code panes' place while it has the focus.
fn full(area: Rect, focus: Focus, threads_lines: usize) -> Screen {
    let [body, status] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(STATUS_HEIGHT)]).areas(area);
    let tall = body.height >= TALL;
    // The threads are what a hung process is read from: below `TALL` the pane grows past its 8
    // rows while it has more lines to show (a deadlock banner above the threads, more threads),
    // by most of each row the terminal has over 35 (so that every other pane still fits).
    let threads_h = if tall {
        (body.height.saturating_sub(10) * 3 / 10).clamp(8, 16)
    } else {
        let room = (8 + body.height.saturating_sub(33) * 3 / 5).min(12);
        let wanted = u16::try_from(threads_lines + 3).unwrap_or(u16::MAX);
        wanted.clamp(8, room.max(8))
    };
    let [threads, lower] =
        Layout::vertical([Constraint::Length(threads_h), Constraint::Fill(1)]).areas(body);
    let [left, right] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(REGISTERS_WIDTH)]).areas(lower);
    let [registers, breakpoints] = Layout::vertical([
        Constraint::Length(REGISTERS_HEIGHT.min(lower.height.saturating_sub(4))),
        Constraint::Fill(1),
    ])
    .areas(right);
    let mut s = Screen {
        threads: Some(threads),
        registers: Some(registers),
        breakpoints: Some(breakpoints),
        status: Some(status),
        ..Screen::default()
    };
    if tall {
        let code_h = lower.height * 2 / 5;
        let memory_h = if lower.height >= 44 { 10 } else { 8 };
        let rest = lower.height.saturating_sub(code_h + memory_h);
        let [code_row, backtrace, memory, log] = Layout::vertical([
            Constraint::Length(code_h),
            Constraint::Length(rest / 2),
            Constraint::Length(memory_h),
            Constraint::Fill(1),
        ])
        .areas(left);
        (s.code, s.source) = code_and_source(code_row);
        s.backtrace = Some(backtrace);
        s.memory = Some(memory);
        s.log = Some(log);
    } else {
        let [slot, backtrace, log] = Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length((lower.height / 5).max(5)),
            Constraint::Length((lower.height / 4).max(5)),
        ])
        .areas(left);
        if focus == Focus::Memory {
            s.memory = Some(slot);
        } else {
            (s.code, s.source) = code_and_source(slot);
        }
        s.backtrace = Some(backtrace);
        s.log = Some(log);
    }
    s
}

/// Code and source side by side when there is room, else the source's few lines above the
/// code.
fn code_and_source(r: Rect) -> (Option<Rect>, Option<Rect>) {
    if r.width >= SIDE_BY_SIDE {
        let [code, source] = Layout::horizontal([
            Constraint::Length(CODE_WIDTH.min(r.width * 3 / 5)),
            Constraint::Fill(1),
        ])
        .areas(r);
        (Some(code), Some(source))
    } else {
        let [source, code] = Layout::vertical([
            Constraint::Length((r.height / 3).max(5)),
            Constraint::Fill(1),
        ])
        .areas(r);
        (Some(code), Some(source))
    }
}

fn compact(area: Rect, focus: Focus) -> Screen {
    let [body, status] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(STATUS_HEIGHT)]).areas(area);
    let [threads, other] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Fill(1)]).areas(body);
    let mut s = Screen {
        threads: Some(threads),
        status: Some(status),
        ..Screen::default()
    };
    match focus {
        Focus::Threads | Focus::Registers => s.registers = Some(other),
        Focus::Code => s.code = Some(other),
        Focus::Source => s.source = Some(other),
        Focus::Backtrace => s.backtrace = Some(other),
        Focus::Breakpoints => s.breakpoints = Some(other),
        Focus::Memory => s.memory = Some(other),
        Focus::Log => s.log = Some(other),
    }
    s
}

/// Rows inside a bordered pane.
pub fn inner_height(r: Rect) -> usize {
    r.height.saturating_sub(2) as usize
}

/// The widest memory row that fits `width` columns: 16, 8 or 4 bytes.
pub fn bytes_per_row(width: u16) -> usize {
    [16usize, 8]
        .into_iter()
        .find(|n| memory_row_width(*n) <= width as usize)
        .unwrap_or(4)
}

/// Columns of one memory row of `n` bytes: the address, the bytes in groups of eight, and the
/// ASCII between bars.
pub fn memory_row_width(n: usize) -> usize {
    let groups = n.div_ceil(8);
    16 + 2 + 3 * n - 1 + (groups - 1) + 2 + n + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_tall_the_threads_pane_grows_for_its_lines_where_there_is_room() {
        let h = |w, rows, lines| {
            compute(Rect::new(0, 0, w, rows), Focus::Threads, lines)
                .threads
                .unwrap()
                .height
        };
        assert_eq!(h(150, 40, 3), 8, "few threads: the usual 8 rows");
        // Five threads and a two-line banner: header and borders make 10.
        assert_eq!(h(150, 40, 7), 10);
        assert_eq!(h(150, 40, 400), 11, "no more than the room at 40 rows");
        assert_eq!(h(120, 35, 400), 8, "none at 35 rows");
        let s = compute(Rect::new(0, 0, 150, 40), Focus::Threads, 400);
        assert!(s.backtrace.unwrap().height >= 5 && s.code.unwrap().height >= 9);
    }

    #[test]
    fn every_pane_at_120x35() {
        let s = compute(Rect::new(0, 0, 120, 35), Focus::Threads, 0);
        for f in Focus::ALL.iter().filter(|f| **f != Focus::Memory) {
            let r = s.pane(*f).unwrap_or_else(|| panic!("{f:?} missing"));
            assert!(r.width >= 10 && r.height >= 5, "{f:?} too small: {r:?}");
        }
        assert!(s.code.unwrap().height >= 9, "seven instructions at least");
        assert!(s.code.unwrap().width >= 60);
        // The memory pane takes the code panes' place while focused.
        let m = compute(Rect::new(0, 0, 120, 35), Focus::Memory, 0);
        assert!(m.code.is_none() && m.source.is_none());
        // 8 bytes a row need 53 columns inside the memory pane's borders.
        assert!(m.memory.unwrap().width >= 55 && m.memory.unwrap().height >= 10);
        assert_eq!(
            s.registers.unwrap().height,
            18,
            "27 registers in two columns, the flags and a note fit"
        );
        assert_eq!(
            s.threads.unwrap().width,
            120,
            "the threads table spans the width"
        );
        assert!(s.backtrace.unwrap().height >= 5, "three frames at least");
    }

    #[test]
    fn every_pane_of_its_own_at_200x60_code_beside_source() {
        let s = compute(Rect::new(0, 0, 200, 60), Focus::Threads, 0);
        for f in Focus::ALL {
            let r = s.pane(f).unwrap_or_else(|| panic!("{f:?} missing"));
            assert!(r.width >= 20 && r.height >= 8, "{f:?} too small: {r:?}");
        }
        let (code, source) = (s.code.unwrap(), s.source.unwrap());
        assert_eq!(code.y, source.y, "side by side");
        assert!(code.height >= 16 && code.width >= 80, "{code:?}");
        assert!(s.memory.unwrap().width >= 88, "16 bytes a row");
    }

    #[test]
    fn memory_row_widths_match_the_pane() {
        assert_eq!(memory_row_width(16), 86);
        assert_eq!(memory_row_width(8), 53);
        assert_eq!(bytes_per_row(86), 16);
        assert_eq!(bytes_per_row(85), 8);
        assert_eq!(bytes_per_row(53), 8);
        assert_eq!(bytes_per_row(52), 4);
        assert_eq!(bytes_per_row(0), 4);
    }

    #[test]
    fn sizes_degrade_without_overlap_or_panic() {
        for w in 0..140u16 {
            for h in 0..45u16 {
                let area = Rect::new(0, 0, w, h);
                let s = compute(area, Focus::Memory, 0);
                let panes: Vec<Rect> = Focus::ALL
                    .iter()
                    .filter_map(|f| s.pane(*f))
                    .chain(s.status)
                    .collect();
                for (i, a) in panes.iter().enumerate() {
                    assert!(
                        area.contains(a.as_position()) || a.area() == 0,
                        "{a:?} in {area:?}"
                    );
                    for b in &panes[i + 1..] {
                        assert!(!a.intersects(*b), "{a:?} overlaps {b:?} at {w}x{h}");
                    }
                }
                assert_eq!(
                    s.too_small.is_some(),
                    w < COMPACT_MIN.0 || h < COMPACT_MIN.1
                );
            }
        }
    }
}
