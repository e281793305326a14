//! A stack group's line in the grouped threads pane (`G`): open or closed, how many threads,
//! their tids as ranges, the top function (and the program's own function under it), and what
//! its threads wait on.

use crate::ui::model::groups::Shown;
use crate::ui::model::WaitsModel;
use crate::ui::theme;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use std::collections::BTreeMap;

/// Longest run of tids a group line spells out before it says how many more.
const RANGES_MAX: usize = 40;

pub struct GroupTitle {
    pub open: bool,
    pub count: usize,
    pub ranges: String,
    /// `__lll_lock_wait < ptscope_cycle_take`.
    pub stack: String,
    /// `mutex x3`, `cond 2, fd 1`; empty when nothing is told.
    pub waits: String,
    /// Threads of the group in a deadlock.
    pub deadlocked: usize,
}

impl GroupTitle {
    pub fn new(g: &Shown, w: &WaitsModel) -> Self {
        let cells: Vec<_> = g.view.tids.iter().filter_map(|t| w.cell(*t)).collect();
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &cells {
            *kinds.entry(c.kind).or_default() += 1;
        }
        let mut kinds: Vec<(&str, usize)> = kinds.into_iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let same = cells.windows(2).all(|p| p[0].text == p[1].text);
        let waits = match (kinds.as_slice(), cells.first()) {
            ([], _) | (_, None) => String::new(),
            // One wait said once: a lone thread, or a pool all waiting for the same thing.
            (_, Some(c)) if same && cells.len() == g.view.tids.len() => c.text.clone(),
            ([(k, n)], _) => format!("{k} x{n}"),
            (many, _) => many
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let mut ranges = g.view.ranges();
        if ranges.chars().count() > RANGES_MAX {
            let cut: String = ranges.chars().take(RANGES_MAX).collect();
            let cut = cut
                .rsplit_once(", ")
                .map_or(cut.clone(), |(a, _)| a.to_string());
            ranges = format!("{cut}, ...");
        }
        let stack = match &g.view.at {
            Some(at) => format!("{} < {at}", g.view.top),
            None => g.view.top.clone(),
        };
        GroupTitle {
            open: g.open,
            count: g.view.tids.len(),
            ranges,
            stack,
            waits,
            deadlocked: g.view.tids.iter().filter(|t| w.deadlocked(**t)).count(),
        }
    }
}

/// The line, as the pane draws it over a row of its table.
pub fn group_line(t: &GroupTitle, selected: bool) -> Line<'static> {
    let base = if selected {
        theme::SELECTED
    } else {
        Style::new()
    };
    let bold = base.add_modifier(Modifier::BOLD);
    let what = if t.count == 1 {
        "1 thread ".to_string()
    } else {
        format!("{} threads", t.count)
    };
    let mut spans = vec![
        Span::styled(if t.open { " ▾ " } else { " ▸ " }, bold),
        Span::styled(format!("{what:>11}  "), bold),
        Span::styled(format!("{}  ", t.ranges), base),
        Span::styled(t.stack.clone(), base.patch(theme::SYMBOL)),
    ];
    if !t.waits.is_empty() {
        spans.push(Span::styled(format!("  waits: {}", t.waits), base));
    }
    if t.deadlocked > 0 {
        spans.push(Span::styled(
            format!("  ! {} in a deadlock", t.deadlocked),
            base.patch(theme::MARK),
        ));
    }
    Line::from(spans).style(base)
}
