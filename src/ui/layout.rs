//! Where each pane goes for a terminal size. Pure, so the model can size its memory reads and
//! scroll windows with the same rectangles the renderer draws into.

use super::app::Focus;
use ratatui::layout::{Constraint, Layout, Rect};

/// Below this every pane is shown.
pub const FULL_MIN: (u16, u16) = (100, 30);
/// Below this only a "terminal too small" notice fits.
pub const COMPACT_MIN: (u16, u16) = (40, 10);

const REGISTERS_WIDTH: u16 = 29;
const BREAKPOINTS_WIDTH: u16 = 30;
const STATUS_HEIGHT: u16 = 2;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Screen {
    pub threads: Option<Rect>,
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
            Focus::Registers => self.registers,
            Focus::Breakpoints => self.breakpoints,
            Focus::Memory => self.memory,
            Focus::Log => self.log,
        }
    }
}

/// `focus` matters only in the compact layout, which shows the threads and the focused pane.
pub fn compute(area: Rect, focus: Focus) -> Screen {
    if area.width >= FULL_MIN.0 && area.height >= FULL_MIN.1 {
        full(area)
    } else if area.width >= COMPACT_MIN.0 && area.height >= COMPACT_MIN.1 {
        compact(area, focus)
    } else {
        Screen {
            too_small: Some(area),
            ..Screen::default()
        }
    }
}

fn full(area: Rect) -> Screen {
    let [body, status] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(STATUS_HEIGHT)]).areas(area);
    let [left, registers] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(REGISTERS_WIDTH)]).areas(body);
    // The threads table gets a share of extra height, the log the rest; memory stays a page.
    let threads_h = (left.height.saturating_sub(10) * 2 / 5).max(8);
    let memory_h = if left.height >= 40 { 14 } else { 10 };
    let [threads, middle, log] = Layout::vertical([
        Constraint::Length(threads_h),
        Constraint::Length(memory_h),
        Constraint::Fill(1),
    ])
    .areas(left);
    let [memory, breakpoints] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(BREAKPOINTS_WIDTH)])
            .areas(middle);
    Screen {
        threads: Some(threads),
        registers: Some(registers),
        breakpoints: Some(breakpoints),
        memory: Some(memory),
        log: Some(log),
        status: Some(status),
        too_small: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pane_at_120x35() {
        let s = compute(Rect::new(0, 0, 120, 35), Focus::Threads);
        for f in Focus::ALL {
            let r = s.pane(f).unwrap_or_else(|| panic!("{f:?} missing"));
            assert!(r.width >= 10 && r.height >= 5, "{f:?} too small: {r:?}");
        }
        // 8 bytes a row need 53 columns inside the memory pane's borders.
        assert!(s.memory.unwrap().width >= 55);
        assert_eq!(
            s.registers.unwrap().height,
            33,
            "27 registers and flags fit"
        );
    }

    #[test]
    fn sizes_degrade_without_overlap_or_panic() {
        for w in 0..140u16 {
            for h in 0..45u16 {
                let area = Rect::new(0, 0, w, h);
                let s = compute(area, Focus::Memory);
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
