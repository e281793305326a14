//! What the pane snapshot tests share: draw a widget or the whole screen on a TestBackend,
//! and read the cells back as text.

use super::screen::ScreenView;
use crate::ui::app::{update, Model};
use crate::ui::msg::Msg;
use ratatui::backend::TestBackend;
use ratatui::widgets::Widget;
use ratatui::Terminal;

/// `widget` drawn over a `w` x `h` terminal.
pub fn draw<W>(w: u16, h: u16, widget: W) -> Terminal<TestBackend>
where
    for<'a> &'a W: Widget,
{
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    t.draw(|f| f.render_widget(&widget, f.area()))
        .expect("a frame on a test terminal");
    t
}

/// The whole screen of `m` at `w` x `h` (the model told the size first, as the run loop does).
pub fn screen(m: &Model, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut m = m.clone();
    update(&mut m, Msg::Resize(w, h));
    draw(w, h, ScreenView { model: &m })
}

/// The cells' text, a line per row.
pub fn text(t: &Terminal<TestBackend>) -> String {
    let b = t.backend().buffer();
    (0..b.area.height)
        .map(|y| {
            (0..b.area.width)
                .map(|x| b[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}
