//! The whole screen: every pane the layout has room for, the status bar, and the help overlay.

use super::breakpoints::BreakpointsPane;
use super::events::EventsPane;
use super::help::HelpOverlay;
use super::memory::MemoryPane;
use super::registers::RegistersPane;
use super::status::StatusBar;
use super::threads::ThreadsPane;
use crate::ui::app::Model;
use crate::ui::layout::{self, COMPACT_MIN};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

pub struct ScreenView<'a> {
    pub model: &'a Model,
}

impl Widget for &ScreenView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let model = self.model;
        let s = layout::compute(area, model.focus);
        if let Some(r) = s.too_small {
            let msg = format!(
                "terminal too small: {}x{}, ptscope needs {}x{}",
                area.width, area.height, COMPACT_MIN.0, COMPACT_MIN.1
            );
            Paragraph::new(Line::from(msg))
                .wrap(Wrap { trim: true })
                .render(r, buf);
            return;
        }
        if let Some(r) = s.threads {
            (&ThreadsPane { model }).render(r, buf);
        }
        if let Some(r) = s.registers {
            (&RegistersPane { model }).render(r, buf);
        }
        if let Some(r) = s.memory {
            (&MemoryPane { model }).render(r, buf);
        }
        if let Some(r) = s.breakpoints {
            (&BreakpointsPane { model }).render(r, buf);
        }
        if let Some(r) = s.log {
            (&EventsPane { model }).render(r, buf);
        }
        if let Some(r) = s.status {
            (&StatusBar { model }).render(r, buf);
        }
        if model.help {
            (&HelpOverlay).render(area, buf);
        }
    }
}
