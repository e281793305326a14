//! Keys to messages. What a key means depends only on what is open: the help overlay, a prompt,
//! or the panes.

use super::msg::Msg;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Prompt,
    Help,
}

pub fn map(key: KeyEvent, mode: Mode) -> Option<Msg> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        return Some(Msg::Quit);
    }
    match mode {
        Mode::Help => Some(Msg::ToggleHelp),
        Mode::Prompt => match key.code {
            KeyCode::Enter => Some(Msg::PromptSubmit),
            KeyCode::Esc => Some(Msg::PromptCancel),
            KeyCode::Backspace => Some(Msg::PromptBackspace),
            KeyCode::Char(c) if !ctrl => Some(Msg::PromptChar(c)),
            _ => None,
        },
        Mode::Normal => Some(match key.code {
            KeyCode::Char('q') => Msg::Quit,
            KeyCode::Char('?') => Msg::ToggleHelp,
            KeyCode::Char('s') => Msg::Stop,
            KeyCode::Char('c') => Msg::Continue,
            KeyCode::Char('n') => Msg::Step,
            KeyCode::Char('b') => Msg::BreakpointPrompt,
            KeyCode::Char('d') => Msg::DeleteBreakpoint,
            KeyCode::Char('g') => Msg::MemoryPrompt,
            KeyCode::Char('o') => Msg::StepOver,
            KeyCode::Char('f') => Msg::Finish,
            KeyCode::Char('l') => Msg::StepLine,
            KeyCode::Char('a') => Msg::ToggleSyntax,
            KeyCode::Char('=') => Msg::EditPrompt,
            KeyCode::Char('w') => Msg::WatchPrompt,
            KeyCode::Char('G') => Msg::ToggleGroups,
            KeyCode::Enter | KeyCode::Right => Msg::Expand,
            KeyCode::Left => Msg::Collapse,
            KeyCode::Tab => Msg::FocusNext,
            KeyCode::BackTab => Msg::FocusPrev,
            KeyCode::Up | KeyCode::Char('k') => Msg::Up,
            KeyCode::Down | KeyCode::Char('j') => Msg::Down,
            KeyCode::PageUp => Msg::PageUp,
            KeyCode::PageDown => Msg::PageDown,
            KeyCode::Home => Msg::Home,
            KeyCode::End => Msg::End,
            _ => return None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn table() {
        use KeyCode::*;
        use Mode::*;
        let ctrl_c = KeyEvent::new(Char('c'), KeyModifiers::CONTROL);
        let shift_tab = KeyEvent::new(BackTab, KeyModifiers::SHIFT);
        let cases: Vec<(KeyEvent, Mode, Option<Msg>)> = vec![
            (key(Char('q')), Normal, Some(Msg::Quit)),
            (key(Char('?')), Normal, Some(Msg::ToggleHelp)),
            (key(Char('s')), Normal, Some(Msg::Stop)),
            (key(Char('c')), Normal, Some(Msg::Continue)),
            (key(Char('n')), Normal, Some(Msg::Step)),
            (key(Char('b')), Normal, Some(Msg::BreakpointPrompt)),
            (key(Char('d')), Normal, Some(Msg::DeleteBreakpoint)),
            (key(Char('g')), Normal, Some(Msg::MemoryPrompt)),
            (key(Char('o')), Normal, Some(Msg::StepOver)),
            (key(Char('f')), Normal, Some(Msg::Finish)),
            (key(Char('l')), Normal, Some(Msg::StepLine)),
            (key(Char('a')), Normal, Some(Msg::ToggleSyntax)),
            (key(Char('l')), Prompt, Some(Msg::PromptChar('l'))),
            (key(Char('=')), Normal, Some(Msg::EditPrompt)),
            (key(Char('w')), Normal, Some(Msg::WatchPrompt)),
            (key(Char('=')), Prompt, Some(Msg::PromptChar('='))),
            (key(Char('w')), Prompt, Some(Msg::PromptChar('w'))),
            (key(Char('G')), Normal, Some(Msg::ToggleGroups)),
            (key(Enter), Normal, Some(Msg::Expand)),
            (key(Right), Normal, Some(Msg::Expand)),
            (key(Left), Normal, Some(Msg::Collapse)),
            (key(Char('G')), Prompt, Some(Msg::PromptChar('G'))),
            (key(Tab), Normal, Some(Msg::FocusNext)),
            (shift_tab, Normal, Some(Msg::FocusPrev)),
            (key(Up), Normal, Some(Msg::Up)),
            (key(Char('k')), Normal, Some(Msg::Up)),
            (key(Down), Normal, Some(Msg::Down)),
            (key(Char('j')), Normal, Some(Msg::Down)),
            (key(PageUp), Normal, Some(Msg::PageUp)),
            (key(PageDown), Normal, Some(Msg::PageDown)),
            (key(Home), Normal, Some(Msg::Home)),
            (key(End), Normal, Some(Msg::End)),
            (key(Char('x')), Normal, None),
            (key(F(1)), Normal, None),
            (ctrl_c, Normal, Some(Msg::Quit)),
            // In a prompt, letters are text, even the ones that are commands elsewhere.
            (key(Char('q')), Prompt, Some(Msg::PromptChar('q'))),
            (key(Char('0')), Prompt, Some(Msg::PromptChar('0'))),
            (key(Char('+')), Prompt, Some(Msg::PromptChar('+'))),
            (key(Enter), Prompt, Some(Msg::PromptSubmit)),
            (key(Esc), Prompt, Some(Msg::PromptCancel)),
            (key(Backspace), Prompt, Some(Msg::PromptBackspace)),
            (key(Tab), Prompt, None),
            (ctrl_c, Prompt, Some(Msg::Quit)),
            // Any key closes the help; Ctrl-C still quits.
            (key(Char('q')), Help, Some(Msg::ToggleHelp)),
            (key(Esc), Help, Some(Msg::ToggleHelp)),
            (ctrl_c, Help, Some(Msg::Quit)),
        ];
        for (k, mode, want) in cases {
            // Msg holds tracer events, which have no equality; their Debug text does.
            assert_eq!(
                format!("{:?}", map(k, mode)),
                format!("{want:?}"),
                "{k:?} in {mode:?}"
            );
        }
    }

    #[test]
    fn releases_are_ignored() {
        let mut k = key(KeyCode::Char('s'));
        k.kind = KeyEventKind::Release;
        assert!(map(k, Mode::Normal).is_none());
    }
}
