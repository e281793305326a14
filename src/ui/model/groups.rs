//! `G`: the threads pane grouped by identical stack. A group row (count, tid ranges, top
//! function) opens to its threads; the cursor moves over group rows and the threads of open
//! groups, and the thread under it (a group's first thread on a group row) is the selected one
//! the other panes show.
//!
//! The groups come from a walk of every stack at a stop (`hung::run`, on the analysis
//! worker). Threads born since that walk are listed after the groups, as one more group whose
//! stack is not known.

use crate::tracer::thread::Tid;
use crate::ui::hung::{GroupView, GroupsView};
use crate::ui::model::ThreadRow;
use std::collections::{BTreeMap, BTreeSet};

/// Whether the pane is grouped, and where the groups stand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Grouping {
    #[default]
    Off,
    /// On while the process runs with no walk yet: stacks are walked at the next stop.
    NextStop,
    /// On, and the worker is walking this many stacks.
    Walking { threads: usize },
    /// On, showing the groups of the last walk.
    Shown,
}

/// Where the cursor is in the grouped pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    /// A group row, named by its first thread.
    Group(Tid),
    Thread(Tid),
}

/// A line of the grouped pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// Index into `GroupsModel::shown`.
    Group(usize),
    Thread {
        tid: Tid,
        group: usize,
    },
}

/// A group as shown now: only the threads that are still alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shown {
    pub key: Tid,
    pub view: GroupView,
    pub open: bool,
}

#[derive(Clone, Debug, Default)]
pub struct GroupsModel {
    pub grouping: Grouping,
    /// The last walk's groups.
    pub view: Option<GroupsView>,
    /// Groups opened to their threads, by their first thread.
    pub open: BTreeSet<Tid>,
    pub cursor: Option<Cursor>,
    /// First line shown.
    pub offset: usize,
}

impl GroupsModel {
    pub fn on(&self) -> bool {
        self.grouping != Grouping::Off
    }

    /// Grouped lines are drawn (not the flat list).
    pub fn showing(&self) -> bool {
        self.grouping == Grouping::Shown && self.view.is_some()
    }

    /// The worker's walk. Returns whether it is for stop `gen` (older ones are dropped).
    pub fn apply(&mut self, v: GroupsView, gen: u64) -> bool {
        if v.gen != gen || !self.on() {
            return false;
        }
        self.view = Some(v);
        self.grouping = Grouping::Shown;
        true
    }

    /// The groups with their live threads, largest first as walked, then the threads the walk
    /// did not see.
    pub fn shown(&self, rows: &BTreeMap<Tid, ThreadRow>) -> Vec<Shown> {
        let Some(v) = &self.view else {
            return Vec::new();
        };
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for g in &v.groups {
            let tids: Vec<Tid> = g
                .tids
                .iter()
                .copied()
                .filter(|t| rows.contains_key(t))
                .collect();
            seen.extend(tids.iter().copied());
            if let Some(&key) = tids.first() {
                let view = GroupView { tids, ..g.clone() };
                out.push(Shown {
                    key,
                    open: self.open.contains(&key),
                    view,
                });
            }
        }
        let rest: Vec<Tid> = rows.keys().copied().filter(|t| !seen.contains(t)).collect();
        if let Some(&key) = rest.first() {
            out.push(Shown {
                key,
                open: self.open.contains(&key),
                view: GroupView {
                    tids: rest,
                    top: "(not walked: born since the stop)".into(),
                    at: None,
                    depth: 0,
                },
            });
        }
        out
    }

    pub fn lines(shown: &[Shown]) -> Vec<Line> {
        let mut out = Vec::new();
        for (i, g) in shown.iter().enumerate() {
            out.push(Line::Group(i));
            if g.open {
                out.extend(
                    g.view
                        .tids
                        .iter()
                        .map(|&tid| Line::Thread { tid, group: i }),
                );
            }
        }
        out
    }

    /// The cursor's line: where it is, else the line of the selected thread (its own when its
    /// group is open, else its group's), else the first.
    pub fn cursor_index(&self, shown: &[Shown], lines: &[Line], selected: Option<Tid>) -> usize {
        let at = |c: Cursor| {
            lines.iter().position(|l| match (l, c) {
                (Line::Group(i), Cursor::Group(k)) => shown[*i].key == k,
                (Line::Thread { tid, .. }, Cursor::Thread(t)) => *tid == t,
                _ => false,
            })
        };
        if let Some(i) = self.cursor.and_then(at) {
            return i;
        }
        let Some(sel) = selected else { return 0 };
        at(Cursor::Thread(sel))
            .or_else(|| {
                let g = shown.iter().find(|g| g.view.tids.contains(&sel))?;
                at(Cursor::Group(g.key))
            })
            .unwrap_or(0)
    }

    fn cursor_of(shown: &[Shown], line: Line) -> (Cursor, Tid) {
        match line {
            Line::Group(i) => (Cursor::Group(shown[i].key), shown[i].key),
            Line::Thread { tid, .. } => (Cursor::Thread(tid), tid),
        }
    }

    /// Moves the cursor `by` lines in a pane of `rows`; returns the thread to select.
    pub fn move_cursor(
        &mut self,
        by: isize,
        rows: usize,
        threads: &BTreeMap<Tid, ThreadRow>,
        selected: Option<Tid>,
    ) -> Option<Tid> {
        let shown = self.shown(threads);
        let lines = Self::lines(&shown);
        if lines.is_empty() {
            return None;
        }
        let cur = self.cursor_index(&shown, &lines, selected) as isize;
        let i = cur.saturating_add(by).clamp(0, lines.len() as isize - 1) as usize;
        let (c, tid) = Self::cursor_of(&shown, lines[i]);
        self.cursor = Some(c);
        self.offset = visible_offset(self.offset, i, rows, lines.len());
        Some(tid)
    }

    /// Enter or Right: a closed group opens; on an open one the cursor goes to its first
    /// thread. Returns the thread to select.
    pub fn expand(
        &mut self,
        threads: &BTreeMap<Tid, ThreadRow>,
        selected: Option<Tid>,
    ) -> Option<Tid> {
        let shown = self.shown(threads);
        let lines = Self::lines(&shown);
        let i = self.cursor_index(&shown, &lines, selected);
        match lines.get(i)? {
            Line::Group(g) => {
                let key = shown[*g].key;
                if self.open.insert(key) {
                    self.cursor = Some(Cursor::Group(key));
                    Some(key)
                } else {
                    self.cursor = Some(Cursor::Thread(key));
                    Some(key)
                }
            }
            Line::Thread { tid, .. } => Some(*tid),
        }
    }

    /// Left: closes the group under the cursor, or the one its thread is in (the cursor goes
    /// to the group row). Returns the thread to select.
    pub fn collapse(
        &mut self,
        threads: &BTreeMap<Tid, ThreadRow>,
        selected: Option<Tid>,
    ) -> Option<Tid> {
        let shown = self.shown(threads);
        let lines = Self::lines(&shown);
        let i = self.cursor_index(&shown, &lines, selected);
        let g = match lines.get(i)? {
            Line::Group(g) | Line::Thread { group: g, .. } => *g,
        };
        let key = shown[g].key;
        self.open.remove(&key);
        self.cursor = Some(Cursor::Group(key));
        Some(key)
    }
}

/// The first line to show so that line `i` of `len` is visible in `rows`.
pub fn visible_offset(offset: usize, i: usize, rows: usize, len: usize) -> usize {
    let rows = rows.max(1);
    let mut off = offset;
    if i < off {
        off = i;
    } else if i >= off + rows {
        off = i + 1 - rows;
    }
    off.min(len.saturating_sub(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(tids: &[Tid]) -> BTreeMap<Tid, ThreadRow> {
        tids.iter().map(|t| (*t, ThreadRow::new(*t))).collect()
    }

    fn group(tids: &[Tid], top: &str) -> GroupView {
        GroupView {
            tids: tids.to_vec(),
            top: top.into(),
            at: None,
            depth: 8,
        }
    }

    fn model() -> GroupsModel {
        GroupsModel {
            grouping: Grouping::Shown,
            view: Some(GroupsView {
                gen: 1,
                groups: vec![
                    group(&[11, 12, 13], "__lll_lock_wait"),
                    group(&[10], "pause"),
                ],
            }),
            ..Default::default()
        }
    }

    #[test]
    fn groups_open_and_close_and_the_cursor_follows() {
        let mut g = model();
        let t = rows(&[10, 11, 12, 13, 20]);
        let shown = g.shown(&t);
        assert_eq!(
            shown.len(),
            3,
            "two walked groups and the thread born since"
        );
        assert_eq!(shown[2].view.tids, vec![20]);
        assert_eq!(GroupsModel::lines(&shown).len(), 3);
        // The selected thread (11) is in the first group, closed: the cursor is on that row.
        assert_eq!(g.expand(&t, Some(11)), Some(11));
        assert!(g.open.contains(&11));
        let lines = GroupsModel::lines(&g.shown(&t));
        assert_eq!(lines.len(), 6);
        assert_eq!(
            g.move_cursor(1, 10, &t, Some(11)),
            Some(11),
            "onto its first thread"
        );
        assert_eq!(g.cursor, Some(Cursor::Thread(11)));
        assert_eq!(g.move_cursor(2, 10, &t, Some(11)), Some(13));
        assert_eq!(
            g.move_cursor(1, 10, &t, Some(13)),
            Some(10),
            "the next group"
        );
        assert_eq!(g.cursor, Some(Cursor::Group(10)));
        assert_eq!(g.move_cursor(-1, 10, &t, Some(10)), Some(13));
        // Left on a thread closes its group and puts the cursor on the group row.
        assert_eq!(g.collapse(&t, Some(13)), Some(11));
        assert_eq!(g.cursor, Some(Cursor::Group(11)));
        assert!(g.open.is_empty());
        assert_eq!(
            g.move_cursor(100, 10, &t, Some(11)),
            Some(20),
            "clamped at the end"
        );
    }

    #[test]
    fn enter_on_an_open_group_goes_to_its_first_thread() {
        let mut g = model();
        let t = rows(&[10, 11, 12, 13]);
        g.expand(&t, Some(11));
        assert_eq!(g.expand(&t, Some(11)), Some(11));
        assert_eq!(g.cursor, Some(Cursor::Thread(11)));
    }

    #[test]
    fn exited_threads_leave_their_group_and_an_empty_group_goes() {
        let g = model();
        let t = rows(&[12, 13]);
        let shown = g.shown(&t);
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].key, 12, "named by its first live thread");
        assert_eq!(shown[0].view.tids, vec![12, 13]);
    }

    #[test]
    fn answers_are_taken_only_for_this_stop_and_while_on() {
        let mut g = GroupsModel {
            grouping: Grouping::Walking { threads: 4 },
            ..Default::default()
        };
        let v = GroupsView {
            gen: 2,
            groups: Vec::new(),
        };
        assert!(!g.apply(v.clone(), 3));
        assert!(g.apply(v.clone(), 2));
        assert!(g.showing());
        g.grouping = Grouping::Off;
        assert!(!g.apply(v, 2), "turned off meanwhile");
    }

    #[test]
    fn offsets_keep_the_cursor_in_view() {
        assert_eq!(visible_offset(0, 12, 10, 40), 3);
        assert_eq!(visible_offset(5, 2, 10, 40), 2);
        assert_eq!(visible_offset(35, 39, 10, 40), 30);
        assert_eq!(visible_offset(0, 0, 10, 3), 0);
    }
}
