//! The `?` overlay: the key list from assets/help.txt, over the middle of the screen.

use super::block;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

pub const HELP: &str = include_str!("../../../assets/help.txt");

pub struct HelpOverlay;

impl Widget for &HelpOverlay {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let lines = HELP.lines().count() as u16;
        let widest = HELP.lines().map(|l| l.chars().count()).max().unwrap_or(0) as u16;
        let w = (widest + 4).min(area.width);
        let h = (lines + 2).min(area.height);
        let r = Rect {
            x: area.x + (area.width - w) / 2,
            y: area.y + (area.height - h) / 2,
            width: w,
            height: h,
        };
        Clear.render(r, buf);
        Paragraph::new(HELP)
            .wrap(Wrap { trim: false })
            .block(block("Help".to_string(), true))
            .render(r, buf);
    }
}
