//! The memory pane's state: the address the user chose, how they wrote it, and the last read.

use crate::text::sanitize;
use crate::tracer::event::{Command, MemoryRead};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryModel {
    /// What the user typed, shown in the title; already sanitised.
    pub expr: String,
    pub addr: Option<u64>,
    /// The last read; its `addr` may lag `addr` while a new read is on its way.
    pub data: Option<MemoryRead>,
}

impl MemoryModel {
    /// The read that fills a pane of `rows` lines of `row_bytes` bytes, once there is an
    /// address.
    pub fn read(&self, rows: usize, row_bytes: usize) -> Option<Command> {
        Some(Command::ReadMemory {
            addr: self.addr?,
            len: rows * row_bytes,
        })
    }

    /// Shows `addr`, typed as `text`; the old bytes go.
    pub fn show(&mut self, text: &str, addr: u64) {
        self.expr = sanitize(text.trim());
        self.addr = Some(addr);
        self.data = None;
    }

    /// Moves the address by `rows` lines; false when there is no address yet.
    pub fn scroll(&mut self, rows: isize, row_bytes: usize) -> bool {
        match self.addr {
            Some(a) => {
                self.addr = Some(a.wrapping_add_signed(rows as i64 * row_bytes as i64));
                true
            }
            None => false,
        }
    }

    /// A read came back; one for an address no longer shown is dropped.
    pub fn apply_read(&mut self, read: MemoryRead) {
        if self.addr == Some(read.addr) {
            self.data = Some(read);
        }
    }

    /// Nothing readable at all is still a picture: every byte unknown.
    pub fn read_failed(&mut self, addr: u64, len: usize) {
        self.apply_read(MemoryRead {
            addr,
            bytes: Vec::new(),
            requested: len,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer::error::TraceError;
    use crate::tracer::event::Reply;
    use crate::ui::app::update;
    use crate::ui::fixtures::*;
    use crate::ui::focus::Focus;
    use crate::ui::model::StatusKind;
    use crate::ui::msg::Msg;

    #[test]
    fn memory_prompt_accepts_registers_and_pages() {
        let mut m = demo_model();
        let fx = type_prompt(&mut m, Msg::MemoryPrompt, "rsp-0x40", &FakeSymbols);
        let rsp = m.threads.rows[&(PID + 1)].regs.unwrap().rsp();
        let s = m.screen.layout();
        let (rows, per_row) = (s.memory_rows(), s.memory_row_bytes());
        assert_eq!(
            commands(&fx),
            vec![Command::ReadMemory {
                addr: rsp - 0x40,
                len: rows * per_row
            }]
        );
        assert_eq!(m.screen.focus, Focus::Memory);
        assert_eq!(m.memory.expr, "rsp-0x40");
        let down = commands(&update(&mut m, Msg::PageDown));
        let page = (rows * per_row) as u64;
        assert_eq!(
            down,
            vec![Command::ReadMemory {
                addr: rsp - 0x40 + page,
                len: rows * per_row
            }]
        );
        update(&mut m, Msg::PageUp);
        let up = commands(&update(&mut m, Msg::Up));
        assert_eq!(
            up,
            vec![Command::ReadMemory {
                addr: rsp - 0x40 - per_row as u64,
                len: rows * per_row
            }]
        );
        // The prompt opens with what was typed last.
        update(&mut m, Msg::MemoryPrompt);
        assert_eq!(
            m.prompt.current.as_ref().map(|p| p.input.as_str()),
            Some("rsp-0x40")
        );
    }

    #[test]
    fn scrolling_without_an_address_says_how_to_choose_one() {
        let mut m = demo_model();
        m.screen.focus = Focus::Memory;
        assert!(update(&mut m, Msg::Down).is_empty());
        let s = m.status.line.clone().unwrap();
        assert!(s.text.contains("press g"), "{}", s.text);
    }

    #[test]
    fn a_stale_memory_reply_is_ignored_and_a_failed_one_shows_unknown_bytes() {
        let mut m = demo_model();
        m.memory.addr = Some(0x2000);
        m.sent(
            1,
            Command::ReadMemory {
                addr: 0x1000,
                len: 16,
            },
        );
        let stale = MemoryRead {
            addr: 0x1000,
            bytes: vec![1; 16],
            requested: 16,
        };
        reply(&mut m, 1, Ok(Reply::Memory(stale)));
        assert_eq!(m.memory.data, None);
        m.sent(
            2,
            Command::ReadMemory {
                addr: 0x2000,
                len: 32,
            },
        );
        reply(
            &mut m,
            2,
            Err(TraceError::Unreadable {
                addr: 0x2000,
                len: 32,
                read: 0,
            }),
        );
        let d = m.memory.data.clone().unwrap();
        assert_eq!((d.bytes.len(), d.requested), (0, 32));
        assert_eq!(m.status.line.clone().unwrap().kind, StatusKind::Error);
    }

    #[test]
    fn apply_read_drops_reads_of_another_address() {
        let mut m = MemoryModel {
            addr: Some(0x2000),
            ..MemoryModel::default()
        };
        m.apply_read(MemoryRead {
            addr: 0x1000,
            bytes: vec![1; 16],
            requested: 16,
        });
        assert_eq!(m.data, None);
        m.read_failed(0x2000, 32);
        let d = m.data.clone().unwrap();
        assert_eq!((d.bytes.len(), d.requested), (0, 32));
    }

    #[test]
    fn scrolling_moves_by_whole_rows() {
        let mut m = MemoryModel::default();
        assert!(!m.scroll(1, 16), "no address yet");
        assert_eq!(m.read(4, 16), None);
        m.show("  rsp\x1b[2J ", 0x1000);
        assert_eq!(m.expr, "rsp\\x1b[2J");
        assert!(m.scroll(-2, 16));
        assert_eq!(
            m.read(4, 16),
            Some(Command::ReadMemory {
                addr: 0x1000 - 32,
                len: 64
            })
        );
    }
}
