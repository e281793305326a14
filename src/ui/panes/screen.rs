//! The whole screen: every pane the layout has room for, the status bar, and the help overlay.
//! This is the one place that knows the whole model; each pane gets only its part(s).

use super::backtrace::BacktracePane;
use super::breakpoints::BreakpointsPane;
use super::code::CodePane;
use super::deadlock::{self, DeadlockBanner};
use super::events::EventsPane;
use super::help::HelpOverlay;
use super::memory::MemoryPane;
use super::registers::RegistersPane;
use super::source::SourcePane;
use super::status::StatusBar;
use super::threads::ThreadsPane;
use crate::ui::app::Model;
use crate::ui::focus::Focus;
use crate::ui::layout::{self, COMPACT_MIN};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Widget, Wrap};

pub struct ScreenView<'a> {
    pub model: &'a Model,
}

pub fn threads(m: &Model) -> ThreadsPane<'_> {
    ThreadsPane {
        threads: &m.threads,
        waits: &m.waits,
        groups: &m.groups,
        process: m.process.state,
        focused: m.screen.focused(Focus::Threads),
    }
}

pub fn code(m: &Model) -> CodePane<'_> {
    CodePane {
        code: &m.code,
        selected: m
            .threads
            .selected_row()
            .map(|r| (r.tid, r.regs.map(|g| g.rip()))),
        stopped: m.process.is_stopped(),
        breakpoints: &m.breakpoints,
        focused: m.screen.focused(Focus::Code),
    }
}

pub fn source(m: &Model) -> SourcePane<'_> {
    SourcePane {
        code: &m.code,
        selected: m.threads.selected,
        stopped: m.process.is_stopped(),
        focused: m.screen.focused(Focus::Source),
    }
}

pub fn backtrace(m: &Model) -> BacktracePane<'_> {
    BacktracePane {
        backtrace: &m.backtrace,
        selected: m.threads.selected,
        stopped: m.process.is_stopped(),
        focused: m.screen.focused(Focus::Backtrace),
    }
}

pub fn registers(m: &Model) -> RegistersPane<'_> {
    RegistersPane {
        row: m.threads.selected_row(),
        focused: m.screen.focused(Focus::Registers),
    }
}

pub fn memory(m: &Model) -> MemoryPane<'_> {
    MemoryPane {
        memory: &m.memory,
        names: &m.threads.names,
        focused: m.screen.focused(Focus::Memory),
    }
}

pub fn breakpoints(m: &Model) -> BreakpointsPane<'_> {
    BreakpointsPane {
        breakpoints: &m.breakpoints,
        names: &m.threads.names,
        focused: m.screen.focused(Focus::Breakpoints),
    }
}

pub fn events(m: &Model) -> EventsPane<'_> {
    EventsPane {
        log: &m.log,
        names: &m.threads.names,
        focused: m.screen.focused(Focus::Log),
    }
}

pub fn status(m: &Model) -> StatusBar<'_> {
    StatusBar {
        process: &m.process,
        status: &m.status,
        prompt: &m.prompt,
    }
}

impl Widget for &ScreenView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let m = self.model;
        let s = layout::compute(area, m.screen.focus, m.screen.threads_lines);
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
            // A deadlock is announced above the threads, for as long as it holds.
            let (banner, r) = deadlock::split(r, m.waits.banner_lines());
            (&DeadlockBanner { waits: &m.waits }).render(banner, buf);
            (&threads(m)).render(r, buf);
        }
        if let Some(r) = s.code {
            (&code(m)).render(r, buf);
        }
        if let Some(r) = s.source {
            (&source(m)).render(r, buf);
        }
        if let Some(r) = s.backtrace {
            (&backtrace(m)).render(r, buf);
        }
        if let Some(r) = s.registers {
            (&registers(m)).render(r, buf);
        }
        if let Some(r) = s.memory {
            (&memory(m)).render(r, buf);
        }
        if let Some(r) = s.breakpoints {
            (&breakpoints(m)).render(r, buf);
        }
        if let Some(r) = s.log {
            (&events(m)).render(r, buf);
        }
        if let Some(r) = s.status {
            (&status(m)).render(r, buf);
        }
        if m.screen.help {
            (&HelpOverlay).render(area, buf);
        }
    }
}
