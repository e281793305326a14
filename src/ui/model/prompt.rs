//! The one-line prompt `b`, `g`, `=` and `w` open in the status bar.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptKind {
    Breakpoint,
    MemoryAddress,
    /// `REG = VALUE` or `*ADDR = VALUE` (`ui/assign.rs`).
    Edit,
    /// `EXPR [r] [len N]` (`ui/watch_spec.rs`).
    Watch,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: String,
}

/// Longest text a prompt takes (an `=` with a text or a byte list needs room).
const MAX_INPUT: usize = 160;

#[derive(Clone, Debug, Default)]
pub struct PromptModel {
    pub current: Option<Prompt>,
}

impl PromptModel {
    pub fn is_open(&self) -> bool {
        self.current.is_some()
    }

    pub fn open(&mut self, kind: PromptKind, input: String) {
        self.current = Some(Prompt { kind, input });
    }

    pub fn type_char(&mut self, c: char) {
        if let Some(p) = self.current.as_mut() {
            if !c.is_control() && p.input.len() < MAX_INPUT {
                p.input.push(c);
            }
        }
    }

    pub fn backspace(&mut self) {
        if let Some(p) = self.current.as_mut() {
            p.input.pop();
        }
    }

    pub fn cancel(&mut self) {
        self.current = None;
    }

    /// Enter: the prompt closes and hands over what was typed.
    pub fn submit(&mut self) -> Option<Prompt> {
        self.current.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{Env, ExprError};
    use crate::tracer::event::Command;
    use crate::ui::fixtures::*;
    use crate::ui::model::StatusKind;
    use crate::ui::msg::Msg;

    #[test]
    fn unknown_names_go_to_the_symbols() {
        struct Table;
        impl Env for Table {
            fn symbol(&self, _: Option<&str>, name: &str) -> Result<u64, ExprError> {
                match name {
                    "read" => Ok(0x7f00_0000_1000),
                    other => Err(ExprError::UnknownSymbol(other.into())),
                }
            }
        }
        let mut m = demo_model();
        for (input, want) in [
            ("read+0x10", Some(0x7f00_0000_1010)),
            ("0x1000", Some(0x1000)),
            ("ptscope_demo_hot", Some(HOT)),
            ("nosuch", None),
        ] {
            let fx = type_prompt(&mut m, Msg::BreakpointPrompt, input, &Table);
            match want {
                Some(addr) => assert_eq!(
                    commands(&fx),
                    vec![Command::AddBreakpoint { addr }],
                    "{input}"
                ),
                None => {
                    assert!(commands(&fx).is_empty());
                    let s = m.status.line.clone().unwrap();
                    assert_eq!(
                        (s.kind, s.text.as_str()),
                        (StatusKind::Error, "no symbol named `nosuch`")
                    );
                }
            }
        }
    }

    #[test]
    fn escape_closes_without_asking() {
        let mut m = demo_model();
        crate::ui::app::update(&mut m, Msg::MemoryPrompt);
        crate::ui::app::update(&mut m, Msg::PromptCancel);
        assert!(!m.prompt.is_open());
        assert!(crate::ui::app::update(&mut m, Msg::PromptSubmit).is_empty());
    }

    #[test]
    fn typing_editing_and_limits() {
        let mut p = PromptModel::default();
        p.type_char('x');
        assert!(!p.is_open(), "no prompt, no text");
        p.open(PromptKind::Breakpoint, String::new());
        for c in "0x401136".chars() {
            p.type_char(c);
        }
        p.backspace();
        p.type_char('\x1b');
        p.type_char('7');
        for _ in 0..MAX_INPUT + 10 {
            p.type_char('0');
        }
        let got = p.submit().expect("open");
        assert_eq!(got.kind, PromptKind::Breakpoint);
        assert!(got.input.starts_with("0x4011370"), "{}", got.input);
        assert_eq!(got.input.len(), MAX_INPUT);
        assert!(!p.is_open());
    }
}
