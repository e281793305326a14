//! The terminal's size, which pane has the focus, and whether the help is open; with the
//! layout these give, the other parts size their scrolling and reads.

use crate::ui::focus::Focus;
use crate::ui::layout::{self, Screen};
use ratatui::layout::Rect;

#[derive(Clone, Debug)]
pub struct ScreenModel {
    pub size: (u16, u16),
    pub focus: Focus,
    pub help: bool,
    /// Lines the threads pane has to show (rows and the deadlock banner); the layout grows
    /// the pane for them where there is room. Kept by `app::update` after every message.
    pub threads_lines: usize,
}

impl Default for ScreenModel {
    fn default() -> Self {
        ScreenModel {
            size: (120, 35),
            focus: Focus::Threads,
            help: false,
            threads_lines: 0,
        }
    }
}

impl ScreenModel {
    /// Where each pane is, as the renderer will draw it.
    pub fn layout(&self) -> Screen {
        layout::compute(
            Rect::new(0, 0, self.size.0, self.size.1),
            self.focus,
            self.threads_lines,
        )
    }

    pub fn focused(&self, f: Focus) -> bool {
        self.focus == f
    }

    /// How far PgUp/PgDn move in the focused pane.
    pub fn page(&self) -> usize {
        let s = self.layout();
        match self.focus {
            Focus::Memory => s.memory_rows(),
            Focus::Log => s.log_rows(),
            Focus::Backtrace => s.backtrace_rows(),
            Focus::Code => s.code_rows(),
            Focus::Source => s.source_rows(),
            Focus::Threads | Focus::Registers | Focus::Breakpoints => s.threads_rows(),
        }
    }
}
