//! The `?` overlay: the key list from assets/help.txt, over the middle of the screen. The file
//! has two parts, the keys and then (after a line `---`) the prompts and what the panes show:
//! side by side when the screen is wide enough (120 columns), else one after the other.

use super::block;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

pub const HELP: &str = include_str!("../../../assets/help.txt");

/// Columns between the two parts.
const GAP: u16 = 3;

pub struct HelpOverlay;

/// The keys, and the rest.
fn parts() -> (&'static str, &'static str) {
    HELP.split_once("\n---\n").unwrap_or((HELP, ""))
}

fn size(text: &str) -> (u16, u16) {
    let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    (widest as u16, text.lines().count() as u16)
}

impl Widget for &HelpOverlay {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let (keys, rest) = parts();
        let ((kw, kh), (rw, rh)) = (size(keys), size(rest));
        // Border and a column of margin on each side.
        let side_by_side = kw + GAP + rw + 4 <= area.width;
        let (w, h) = if side_by_side {
            (kw + GAP + rw + 4, kh.max(rh) + 2)
        } else {
            (kw.max(rw) + 4, kh + 1 + rh + 2)
        };
        let (w, h) = (w.min(area.width), h.min(area.height));
        let r = Rect {
            x: area.x + (area.width - w) / 2,
            y: area.y + (area.height - h) / 2,
            width: w,
            height: h,
        };
        Clear.render(r, buf);
        let frame = block("Help".to_string(), true);
        let inner = frame.inner(r);
        frame.render(r, buf);
        if !side_by_side {
            Paragraph::new(format!("{keys}\n\n{rest}"))
                .wrap(Wrap { trim: false })
                .render(inner, buf);
            return;
        }
        let left = Rect {
            x: inner.x + 1,
            width: kw.min(inner.width.saturating_sub(1)),
            ..inner
        };
        let right = Rect {
            x: left.x + kw + GAP,
            width: rw,
            ..inner
        };
        Paragraph::new(keys).render(left, buf);
        Paragraph::new(rest).render(right, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_parts_fit_side_by_side_at_120x35() {
        let (keys, rest) = parts();
        assert!(!rest.is_empty(), "help.txt has its --- line");
        let ((kw, kh), (rw, rh)) = (size(keys), size(rest));
        assert!(kw + GAP + rw + 4 <= 120, "{kw} + {rw} columns");
        assert!(kh.max(rh) + 2 <= 35, "{kh} and {rh} lines");
    }
}
