//! Hex and ASCII at the address the user chose. Bytes the engine could not read show as `??`.

use super::block;
use crate::ui::layout::{bytes_per_row, inner_height};
use crate::ui::model::{MemoryModel, PcNames};
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

pub struct MemoryPane<'a> {
    pub memory: &'a MemoryModel,
    pub names: &'a PcNames,
    pub focused: bool,
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
        let mv = self.memory;
        let mut title = match mv.addr {
            Some(a) if !mv.expr.is_empty() => format!("Memory {} = {a:#x}", mv.expr),
            Some(a) => format!("Memory {a:#x}"),
            None => "Memory".to_string(),
        };
        if let Some(name) = mv.addr.and_then(|a| self.names.get(a)) {
            // Unless the user typed that very name.
            if name != mv.expr {
                title.push_str(&format!(" <{name}>"));
            }
        }
        let block = block(title, self.focused);
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
