//! Rows of measurements, their medians and pairwise ratios, and the printed table.

#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    /// Seconds per job: lower is better.
    Time,
    /// Jobs per second: higher is better.
    Rate,
    /// CPU seconds used by the tracer over the measured window: lower is better.
    Cpu,
}

#[derive(Clone, Copy)]
pub enum Goal {
    None,
    /// ptscope's speed at least this fraction of the raw loop's.
    OfRaw(f64),
    /// At most this many seconds (of CPU or wall time).
    AtMost(f64),
    /// A pause at most twice the raw loop's plus 1 ms.
    PauseOfRaw,
    /// At least this many times faster than the other tool (eu-stack, gcore).
    OverOther(f64),
    /// At least this many times faster than the other tool, and than gdb.
    OverOtherAndGdb(f64, f64),
    /// ptscope's speed at least this many times gdb's.
    OfGdb(f64),
}

pub struct Row {
    pub figure: String,
    pub kind: Kind,
    /// Printed after the figure, e.g. "/s" or "per 10 s".
    pub unit: &'static str,
    pub pts: Vec<f64>,
    pub raw: Vec<f64>,
    /// None: gdb missing or unable to do this job; the string says why.
    pub gdb: Result<Vec<f64>, String>,
    /// A third tool for this job (eu-stack, gcore: the figure names it), or why not.
    pub other: Result<Vec<f64>, String>,
    pub goal: Goal,
    /// Off where a ratio means nothing (both sides are next to zero).
    pub ratios: bool,
}

impl Row {
    pub fn new(figure: impl Into<String>, kind: Kind, unit: &'static str, goal: Goal) -> Row {
        Row {
            figure: figure.into(),
            kind,
            unit,
            pts: Vec::new(),
            raw: Vec::new(),
            gdb: Err("-".into()),
            other: Err("".into()),
            goal,
            ratios: true,
        }
    }

    pub fn gdb_push(&mut self, v: f64) {
        match &mut self.gdb {
            Ok(list) => list.push(v),
            Err(_) => self.gdb = Ok(vec![v]),
        }
    }

    pub fn other_push(&mut self, v: f64) {
        match &mut self.other {
            Ok(list) => list.push(v),
            Err(_) => self.other = Ok(vec![v]),
        }
    }

    /// ptscope's speed over the other's, run by run (same run, same target), then the median:
    /// 1.0 means as fast, 0.5 half as fast.
    fn speed_over(&self, other: &[f64]) -> Option<f64> {
        if !self.ratios {
            return None;
        }
        let ratios: Vec<f64> = self
            .pts
            .iter()
            .zip(other)
            .filter(|(p, o)| **p > 0.0 && **o > 0.0)
            .map(|(p, o)| match self.kind {
                Kind::Rate => p / o,
                Kind::Time | Kind::Cpu => o / p,
            })
            .collect();
        median(&ratios)
    }

    fn verdict(&self) -> &'static str {
        match self.goal {
            Goal::None => "",
            Goal::OfRaw(f) => match self.speed_over(&self.raw) {
                Some(r) if r >= f => "met",
                Some(_) => "MISSED",
                None => "?",
            },
            Goal::AtMost(v) => match median(&self.pts) {
                Some(m) if m <= v => "met",
                Some(_) => "MISSED",
                None => "?",
            },
            Goal::PauseOfRaw => match (median(&self.pts), median(&self.raw)) {
                (Some(p), Some(r)) if p <= 2.0 * r + 1e-3 => "met",
                (Some(_), Some(_)) => "MISSED",
                _ => "?",
            },
            Goal::OverOther(f) => self.over(&self.other, f),
            Goal::OverOtherAndGdb(f, g) => {
                match (self.over(&self.other, f), self.over(&self.gdb, g)) {
                    ("met", "met") => "met",
                    ("?", _) | (_, "?") => "?",
                    _ => "MISSED",
                }
            }
            Goal::OfGdb(f) => self.over(&self.gdb, f),
        }
    }

    fn over(&self, other: &Result<Vec<f64>, String>, f: f64) -> &'static str {
        match other.as_ref().ok().and_then(|o| self.speed_over(o)) {
            Some(r) if r >= f => "met",
            Some(_) => "MISSED",
            None => "?",
        }
    }
}

pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

fn value(kind: Kind, v: f64, unit: &str) -> String {
    match kind {
        Kind::Time | Kind::Cpu => seconds(v),
        Kind::Rate => {
            let n = if v >= 10_000.0 && unit == "/s" {
                format!("{:.1} k", v / 1000.0)
            } else {
                format!("{v:.0}")
            };
            format!("{n}{unit}")
        }
    }
}

pub fn seconds(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.2} s")
    } else if v >= 1e-3 {
        format!("{:.2} ms", v * 1e3)
    } else {
        format!("{:.2} us", v * 1e6)
    }
}

fn cell(kind: Kind, v: &[f64], unit: &str) -> String {
    median(v).map_or("-".into(), |m| value(kind, m, unit))
}

fn ratio(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}x"))
}

fn goal_text(g: Goal) -> String {
    match g {
        Goal::None => String::new(),
        Goal::OfRaw(f) => format!(">= {f:.2}x raw"),
        Goal::AtMost(v) => format!("<= {}", seconds(v)),
        Goal::PauseOfRaw => "<= 2x raw + 1 ms".into(),
        Goal::OverOther(f) => format!(">= {f:.1}x other"),
        Goal::OverOtherAndGdb(f, g) => format!(">= {f:.0}x other, {g:.0}x gdb"),
        Goal::OfGdb(f) => format!(">= {f:.2}x gdb"),
    }
}

pub fn print(rows: &[Row]) {
    let header = [
        "figure", "ptscope", "raw", "gdb", "other", "vs raw", "vs gdb", "vs other", "goal", "",
    ];
    let lines: Vec<[String; 10]> = rows
        .iter()
        .map(|r| {
            let figure = if r.unit.is_empty() || r.kind == Kind::Rate {
                r.figure.clone()
            } else {
                format!("{} ({})", r.figure, r.unit)
            };
            [
                figure,
                cell(r.kind, &r.pts, r.unit),
                cell(r.kind, &r.raw, r.unit),
                match &r.gdb {
                    Ok(v) => cell(r.kind, v, r.unit),
                    Err(why) => why.clone(),
                },
                match &r.other {
                    Ok(v) => cell(r.kind, v, r.unit),
                    Err(why) => why.clone(),
                },
                ratio(r.speed_over(&r.raw)),
                match &r.gdb {
                    Ok(v) => ratio(r.speed_over(v)),
                    Err(_) => "-".into(),
                },
                match &r.other {
                    Ok(v) => ratio(r.speed_over(v)),
                    Err(_) => "".into(),
                },
                goal_text(r.goal),
                r.verdict().to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for l in &lines {
        for (w, c) in widths.iter_mut().zip(l) {
            *w = (*w).max(c.chars().count());
        }
    }
    let show = |cells: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i == 0 {
                s.push_str(&format!("{c:<w$}"));
            } else {
                s.push_str(&format!("  {c:>w$}"));
            }
        }
        println!("{}", s.trim_end());
    };
    show(&header.map(String::from));
    println!(
        "{}",
        "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
    );
    for l in &lines {
        show(l);
    }
}
