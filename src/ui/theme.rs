//! Colours and emphasis, in one place so the panes agree. Plain ANSI colours only: they follow
//! the user's terminal palette and survive tmux and screenshots.

use crate::tracer::event::ProcessState;
use crate::tracer::thread::ThreadState;
use ratatui::style::{Color, Modifier, Style};

pub const BORDER: Style = Style::new().fg(Color::DarkGray);
pub const BORDER_FOCUSED: Style = Style::new().fg(Color::Cyan);
pub const TITLE: Style = Style::new().add_modifier(Modifier::BOLD);
pub const HEADER: Style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
pub const SELECTED: Style = Style::new().add_modifier(Modifier::REVERSED);
pub const DIM: Style = Style::new().fg(Color::DarkGray);
pub const CHANGED: Style = Style::new()
    .fg(Color::LightYellow)
    .add_modifier(Modifier::BOLD);
pub const MARK: Style = Style::new()
    .fg(Color::LightRed)
    .add_modifier(Modifier::BOLD);
/// Where the selected thread is: its pc in the code pane, its line in the source pane.
pub const PC: Style = Style::new()
    .fg(Color::LightYellow)
    .add_modifier(Modifier::BOLD);
pub const ADDRESS: Style = Style::new().fg(Color::Cyan);
pub const SYMBOL: Style = Style::new().fg(Color::LightBlue);
pub const UNREADABLE: Style = Style::new().fg(Color::Red);
pub const ERROR: Style = Style::new()
    .fg(Color::White)
    .bg(Color::Red)
    .add_modifier(Modifier::BOLD);
pub const INFO: Style = Style::new().fg(Color::LightGreen);
pub const KEY: Style = Style::new().fg(Color::Black).bg(Color::Gray);
pub const PROMPT: Style = Style::new().fg(Color::Black).bg(Color::LightYellow);

/// The kernel's side of a thread, told apart from ptscope's own.
pub const KERNEL: Style = Style::new().fg(Color::Magenta);

pub const RUNNING: Style = Style::new().fg(Color::LightGreen);
pub const STOPPED: Style = Style::new().fg(Color::LightRed);
pub const TRANSIENT: Style = Style::new().fg(Color::Yellow);
pub const GONE: Style = Style::new().fg(Color::DarkGray);

pub fn thread_state(s: ThreadState) -> Style {
    match s {
        ThreadState::Running => RUNNING,
        ThreadState::Stopped => STOPPED,
        ThreadState::Stepping | ThreadState::Stopping | ThreadState::Exiting => TRANSIENT,
        ThreadState::CannotStop => TRANSIENT,
        ThreadState::Exited | ThreadState::Detached => GONE,
    }
}

pub fn process_state(s: ProcessState) -> Style {
    match s {
        ProcessState::Running => RUNNING,
        ProcessState::Stopped | ProcessState::GroupStopped { .. } => STOPPED,
        ProcessState::Stopping => TRANSIENT,
        ProcessState::Exited { .. } | ProcessState::Detached => GONE,
    }
}

/// The scheduler's letter: on a CPU, asleep, in uninterruptible sleep (the one to worry
/// about), stopped, or dead.
pub fn kernel_state(c: char) -> Style {
    match c {
        'R' => RUNNING,
        'D' => Style::new()
            .fg(Color::LightRed)
            .add_modifier(Modifier::BOLD),
        'T' | 't' => STOPPED,
        'Z' | 'X' => GONE,
        _ => Style::new(),
    }
}
