//! Hex and ASCII at the address the user chose. Bytes the engine could not read show as `??`.

use super::block;
use crate::ui::app::{Focus, Model};
use crate::ui::layout::inner_height;
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

pub struct MemoryPane<'a> {
    pub model: &'a Model,
}

/// The widest row that fits `width` columns: 16, 8 or 4 bytes.
pub fn bytes_per_row(width: u16) -> usize {
    [16usize, 8]
        .into_iter()
        .find(|n| row_width(*n) <= width as usize)
        .unwrap_or(4)
}

fn row_width(n: usize) -> usize {
    let groups = n.div_ceil(8);
    16 + 2 + 3 * n - 1 + (groups - 1) + 2 + n + 2
}

enum Byte {
    Known(u8),
    Unreadable,
    /// Not asked for (yet): a read of the new size is on its way.
    Unknown,
}

fn hex_line(addr: u64, bytes: &[Byte]) -> Line<'static> {
    let mut spans = vec![Span::styled(format!("{addr:016x}"), theme::ADDRESS)];
    for (i, b) in bytes.iter().enumerate() {
        spans.push(Span::raw(if i % 8 == 0 { "  " } else { " " }));
        spans.push(match b {
            Byte::Known(v) => Span::raw(format!("{v:02x}")),
            Byte::Unreadable => Span::styled("??", theme::UNREADABLE),
            Byte::Unknown => Span::styled("..", theme::DIM),
        });
    }
    spans.push(Span::raw("  |"));
    let ascii: String = bytes
        .iter()
        .map(|b| match b {
            Byte::Known(v) if v.is_ascii_graphic() || *v == b' ' => *v as char,
            Byte::Known(_) => '.',
            Byte::Unreadable => '?',
            Byte::Unknown => ' ',
        })
        .collect();
    spans.push(Span::raw(ascii));
    spans.push(Span::raw("|"));
    Line::from(spans)
}

impl Widget for &MemoryPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.model;
        let mv = &m.memory;
        let title = match mv.addr {
            Some(a) if !mv.expr.is_empty() => format!("Memory {} = {a:#x}", mv.expr),
            Some(a) => format!("Memory {a:#x}"),
            None => "Memory".to_string(),
        };
        let block = block(title, m.focus == Focus::Memory);
        let Some(base) = mv.addr else {
            let hint = Line::styled(
                "press g and type an address: 0x7ffd..., rsp-0x40, rip",
                theme::DIM,
            );
            Paragraph::new(hint).block(block).render(area, buf);
            return;
        };
        let n = bytes_per_row(area.width.saturating_sub(2));
        let data = mv.data.as_ref().filter(|d| d.addr == base);
        let lines: Vec<Line> = (0..inner_height(area))
            .map(|row| {
                let addr = base.wrapping_add((row * n) as u64);
                let bytes: Vec<Byte> = (0..n)
                    .map(|j| {
                        let off = row * n + j;
                        match data {
                            Some(d) if off < d.bytes.len() => Byte::Known(d.bytes[off]),
                            Some(d) if off < d.requested => Byte::Unreadable,
                            _ => Byte::Unknown,
                        }
                    })
                    .collect();
                hex_line(addr, &bytes)
            })
            .collect();
        Paragraph::new(lines)
            .style(Style::new())
            .block(block)
            .render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_widths_match_the_layout() {
        assert_eq!(row_width(16), 86);
        assert_eq!(row_width(8), 53);
        assert_eq!(bytes_per_row(86), 16);
        assert_eq!(bytes_per_row(85), 8);
        assert_eq!(bytes_per_row(53), 8);
        assert_eq!(bytes_per_row(52), 4);
        assert_eq!(bytes_per_row(0), 4);
    }
}
