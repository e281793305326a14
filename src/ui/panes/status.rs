//! Two lines at the bottom: process state, PID, command line and the last command's result;
//! then key hints (or the open prompt) and the session's banner.

use crate::tracer::event::ProcessState;
use crate::tracer::signals::signal_name;
use crate::ui::model::{ProcessModel, PromptKind, PromptModel, StatusKind, StatusModel};
use crate::ui::theme;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

pub struct StatusBar<'a> {
    pub process: &'a ProcessModel,
    pub status: &'a StatusModel,
    pub prompt: &'a PromptModel,
}

pub fn process_label(s: ProcessState) -> String {
    match s {
        ProcessState::Running => "RUNNING".into(),
        ProcessState::Stopping => "STOPPING".into(),
        ProcessState::Stopped => "STOPPED".into(),
        ProcessState::GroupStopped { sig } => {
            format!("GROUP-STOPPED {}", signal_name(sig))
        }
        ProcessState::Exited { status } => format!("EXITED {status}"),
        ProcessState::Detached => "DETACHED".into(),
    }
}

/// The key hints, in the order shown.
const HINTS: [(&str, &str); 16] = [
    ("s", "stop"),
    ("c", "cont"),
    ("n", "step"),
    ("o", "over"),
    ("f", "fin"),
    ("l", "line"),
    ("a", "syntax"),
    ("b", "break"),
    ("w", "watch"),
    ("d", "del"),
    ("g", "mem"),
    ("=", "set"),
    ("G", "group"),
    ("Tab", "focus"),
    ("?", "help"),
    ("q", "quit"),
];

/// Hints left out, in this order, when the others do not fit with them (`?` lists every key).
const OPTIONAL: [&str; 5] = ["G", "Tab", "q", "g", "d"];

/// How the hints are spelt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spelling {
    /// ` s  stop `: a space around the key and around its word.
    Full,
    /// ` s stop`: the key's own background separates them, as in htop.
    Packed,
    /// ` s `: the keys alone, then `(? help)`.
    Keys,
}

impl Spelling {
    fn width(self, key: &str, word: &str) -> usize {
        match self {
            Spelling::Full => key.len() + word.len() + 4,
            Spelling::Packed => key.len() + word.len() + 2,
            Spelling::Keys => key.len() + 3,
        }
    }
}

/// The hints in `width` columns: all of them in full when they fit; else packed, leaving out
/// the optional ones as needed; else the keys alone, the same way (cut at the edge when even
/// those do not fit).
fn hint_spans(width: usize) -> Vec<Span<'static>> {
    const HELP: &str = "(? help) ";
    let shown = |n: usize| {
        HINTS
            .iter()
            .filter(move |(k, _)| !OPTIONAL[..n].contains(k))
    };
    let total = |how: Spelling, n: usize| -> usize {
        let extra = if how == Spelling::Keys { HELP.len() } else { 0 };
        shown(n).map(|(k, w)| how.width(k, w)).sum::<usize>() + extra
    };
    let choice = std::iter::once((Spelling::Full, 0))
        .chain((0..=OPTIONAL.len()).map(|n| (Spelling::Packed, n)))
        .chain((0..=OPTIONAL.len()).map(|n| (Spelling::Keys, n)))
        .find(|(how, n)| total(*how, *n) <= width);
    let (how, n) = choice.unwrap_or((Spelling::Keys, OPTIONAL.len()));
    let mut spans: Vec<Span> = shown(n)
        .flat_map(|(k, w)| {
            let word = match how {
                Spelling::Full => format!(" {w} "),
                Spelling::Packed => w.to_string(),
                Spelling::Keys => " ".to_string(),
            };
            [Span::styled(format!(" {k} "), theme::KEY), Span::raw(word)]
        })
        .collect();
    if how == Spelling::Keys {
        spans.push(Span::raw(HELP));
    }
    spans
}

impl Widget for &StatusBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let p = self.process;
        if area.height == 0 {
            return;
        }
        let state = Span::styled(
            format!(" {} ", process_label(p.state)),
            theme::process_state(p.state).add_modifier(ratatui::style::Modifier::REVERSED),
        );
        let how = if p.launched { "launched" } else { "attached" };
        let mut first = vec![
            state,
            Span::raw(format!(" pid {} ({how}) ", p.pid)),
            Span::styled(p.cmdline.clone(), theme::DIM),
        ];
        if let Some(s) = &self.status.line {
            let style = match s.kind {
                StatusKind::Info | StatusKind::Answer => theme::INFO,
                StatusKind::Error => theme::ERROR,
            };
            first.push(Span::raw("  "));
            first.push(Span::styled(s.text.clone(), style));
        }
        // The result of the last command matters more than the tail of a long command line.
        let line = fit_keeping_tail(first, area.width as usize);
        line.render(Rect { height: 1, ..area }, buf);
        if area.height < 2 {
            return;
        }
        let second = Rect {
            y: area.y + 1,
            height: 1,
            ..area
        };
        let line = match &self.prompt.current {
            Some(p) => {
                let label = match p.kind {
                    PromptKind::Breakpoint => " breakpoint address: ",
                    PromptKind::MemoryAddress => " memory address: ",
                    PromptKind::Edit => " set REG or *ADDR = VALUE: ",
                    PromptKind::Watch => " watch address [r] [len 1|2|4|8]: ",
                };
                Line::from(vec![
                    Span::styled(label, theme::PROMPT),
                    Span::raw(format!(" {}", p.input)),
                    Span::styled(" ", theme::SELECTED),
                    Span::styled("   Enter accept, Esc cancel", theme::DIM),
                ])
            }
            None => {
                let banner = self
                    .status
                    .banner
                    .as_ref()
                    .map_or(0, |b| b.chars().count() + 2);
                // The banner (an address to type) is never cut while the keys alone can make
                // room.
                let mut spans = hint_spans((area.width as usize).saturating_sub(banner));
                if let Some(b) = &self.status.banner {
                    spans.push(Span::styled(format!("  {b}"), theme::ADDRESS));
                }
                Line::from(spans)
            }
        };
        line.render(second, buf);
    }
}

/// Shortens the command line (the third span) so the spans after it still fit.
fn fit_keeping_tail(mut spans: Vec<Span<'static>>, width: usize) -> Line<'static> {
    let total: usize = spans.iter().map(|s| s.width()).sum();
    if total > width && spans.len() > 3 {
        let over = total - width;
        let cmd = spans[2].content.to_string();
        let keep = cmd.chars().count().saturating_sub(over + 1);
        let short: String = cmd.chars().take(keep).collect();
        spans[2] = Span::styled(
            if keep == 0 {
                String::new()
            } else {
                format!("{short}~")
            },
            spans[2].style,
        );
    }
    Line::from(spans).style(Style::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(spans: &[Span]) -> String {
        spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn hints_keep_their_words_at_120_columns_with_a_banner() {
        let wide = text(&hint_spans(200));
        assert!(wide.starts_with(" s  stop  c  cont "), "{wide}");
        // 120 columns less the demo's banner (`try b ptscope_demo_hot (0x55d0c0a01139)`).
        let narrow = hint_spans(120 - 41);
        let t = text(&narrow);
        assert!(t.chars().count() <= 120 - 41, "{t}");
        for hint in [
            " o over",
            " f fin",
            " l line",
            " a syntax",
            " = set",
            " w watch",
            " ? help",
        ] {
            assert!(t.contains(hint), "{hint} in {t}");
        }
        // No banner: every hint, packed.
        let t = text(&hint_spans(120));
        assert!(t.contains(" Tab focus") && t.contains(" q quit"), "{t}");
        // Narrow: the keys alone, all of them while they fit.
        let t = text(&hint_spans(72));
        assert!(t.ends_with("(? help) ") && !t.contains("stop"), "{t}");
        assert!(t.contains(" Tab ") && t.contains(" w "), "{t}");
        let t = text(&hint_spans(60));
        assert!(t.chars().count() <= 60 && !t.contains("Tab"), "{t}");
        assert!(t.contains(" = ") && t.contains(" a "), "{t}");
    }
}
