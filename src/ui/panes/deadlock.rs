//! The deadlock banner: a line per deadlock above the threads pane, from the moment the
//! analysis of a stop finds one for as long as it holds ("DEADLOCK: 4242 -> 4243 -> 4242
//! (mutex <m1>, <m0>)"). More than fit are counted on the last line; the log has them all.

use crate::ui::model::waits::BANNER_MAX;
use crate::ui::model::WaitsModel;
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct DeadlockBanner<'a> {
    pub waits: &'a WaitsModel,
}

/// The banner's rows at the top of `area` (the threads pane's place), and what is left below.
pub fn split(area: Rect, lines: u16) -> (Rect, Rect) {
    // The threads pane keeps its borders, its header and a row at least.
    let lines = lines.min(area.height.saturating_sub(4));
    let banner = Rect {
        height: lines,
        ..area
    };
    let rest = Rect {
        y: area.y + lines,
        height: area.height - lines,
        ..area
    };
    (banner, rest)
}

impl Widget for &DeadlockBanner<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let all = &self.waits.deadlocks;
        let rows = area.height as usize;
        for (i, d) in all.iter().take(rows.min(BANNER_MAX)).enumerate() {
            let more = all.len() - i - 1;
            let mut text = format!(" {} ", d.text);
            if i + 1 == rows && more > 0 {
                text.push_str(&format!(" (and {more} more: see the event log) "));
            }
            let r = Rect {
                y: area.y + i as u16,
                height: 1,
                ..area
            };
            Line::from(Span::styled(text, theme::ERROR))
                .style(theme::ERROR)
                .render(r, buf);
        }
    }
}
