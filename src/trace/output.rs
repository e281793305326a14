//! What `ptscope trace` prints: one line (or JSON object) per hit, then the per-thread count
//! summary. Pure: the run loop feeds it hits; tests feed it fixed ones.

use crate::text::sanitize;
use crate::tracer::{LogLine, Tid, TraceHit};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

/// One traced location as the user typed it and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Traced {
    pub label: String,
    pub addr: u64,
    /// The address is a function's first instruction: the word at rsp is the return address.
    pub entry: bool,
}

/// Counts and output format for one trace.
pub struct Report {
    pub json: bool,
    locations: Vec<Traced>,
    per_thread: BTreeMap<Tid, (String, u64)>,
    per_location: BTreeMap<u64, u64>,
    hits: u64,
}

impl Report {
    pub fn new(json: bool, locations: Vec<Traced>) -> Self {
        Report {
            json,
            locations,
            per_thread: BTreeMap::new(),
            per_location: BTreeMap::new(),
            hits: 0,
        }
    }

    fn location(&self, addr: u64) -> Option<&Traced> {
        self.locations.iter().find(|l| l.addr == addr)
    }

    fn count(&mut self, tid: Tid, name: &str, addr: u64) {
        self.hits += 1;
        *self.per_location.entry(addr).or_default() += 1;
        let e = self
            .per_thread
            .entry(tid)
            .or_insert_with(|| (name.to_string(), 0));
        e.1 += 1;
        if !name.is_empty() {
            e.0 = name.to_string();
        }
    }

    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// The line for one hit. `caller` names the return address when the location is a
    /// function entry (None otherwise, or when it is not known).
    pub fn hit(&mut self, at: Duration, hit: &TraceHit, caller: Option<&str>) -> String {
        self.count(hit.tid, &hit.name, hit.addr);
        let label = self
            .location(hit.addr)
            .map_or_else(|| format!("{:#x}", hit.addr), |l| l.label.clone());
        let entry = self.location(hit.addr).is_some_and(|l| l.entry);
        let ret = hit.stack_top.filter(|_| entry);
        if self.json {
            let args: Vec<String> = hit.args.iter().map(|a| format!("{a:#x}")).collect();
            return json!({
                "time": at.as_secs_f64(),
                "tid": hit.tid,
                "name": sanitize(&hit.name),
                "location": sanitize(&label),
                "addr": format!("{:#x}", hit.addr),
                "args": args,
                "return": ret.map(|r| format!("{r:#x}")),
                "caller": caller,
            })
            .to_string();
        }
        let a = hit.args;
        let from = match (ret, caller) {
            (Some(_), Some(c)) => format!(" from {c}"),
            (Some(r), None) => format!(" from {r:#x}"),
            _ => String::new(),
        };
        format!(
            "{:>12.6} {:>7} {:<16} {} rdi={:#x} rsi={:#x} rdx={:#x} rcx={:#x} r8={:#x} r9={:#x}{from}",
            at.as_secs_f64(),
            hit.tid,
            format!("\"{}\"", sanitize(&hit.name)),
            sanitize(&label),
            a[0],
            a[1],
            a[2],
            a[3],
            a[4],
            a[5],
        )
    }

    /// The line for a logpoint's hit (a location given with `log "..."`).
    pub fn logged(&mut self, at: Duration, line: &LogLine, name: &str) -> String {
        self.count(line.tid, name, line.addr);
        let label = self
            .location(line.addr)
            .map_or_else(|| format!("{:#x}", line.addr), |l| l.label.clone());
        if self.json {
            return json!({
                "time": at.as_secs_f64(),
                "tid": line.tid,
                "name": sanitize(name),
                "location": sanitize(&label),
                "addr": format!("{:#x}", line.addr),
                "log": sanitize(&line.text),
            })
            .to_string();
        }
        format!(
            "{:>12.6} {:>7} {:<16} {}: {}",
            at.as_secs_f64(),
            line.tid,
            format!("\"{}\"", sanitize(name)),
            sanitize(&label),
            sanitize(&line.text)
        )
    }

    /// The summary: hits per thread (most first) and per location. `ended` says why the trace
    /// ended.
    pub fn summary(&self, elapsed: Duration, ended: &str) -> String {
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.hits as f64 / secs
        } else {
            0.0
        };
        let mut threads: Vec<(&Tid, &(String, u64))> = self.per_thread.iter().collect();
        threads.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(b.0)));
        let per_location: Vec<(String, u64)> = self
            .locations
            .iter()
            .map(|l| {
                (
                    l.label.clone(),
                    self.per_location.get(&l.addr).copied().unwrap_or(0),
                )
            })
            .collect();
        if self.json {
            let threads: Vec<_> = threads
                .iter()
                .map(|(tid, (name, n))| json!({"tid": tid, "name": sanitize(name), "hits": n}))
                .collect();
            let locations: Vec<_> = per_location
                .iter()
                .map(|(l, n)| json!({"location": sanitize(l), "hits": n}))
                .collect();
            return json!({"summary": {
                "hits": self.hits,
                "seconds": secs,
                "per_second": rate,
                "ended": ended,
                "threads": threads,
                "locations": locations,
            }})
            .to_string();
        }
        let mut out = format!(
            "-- {} hits in {secs:.3} s ({rate:.0}/s); {ended}\n",
            self.hits
        );
        for (l, n) in &per_location {
            out.push_str(&format!("   {n:>10}  {}\n", sanitize(l)));
        }
        out.push_str("   per thread:\n");
        for (tid, (name, n)) in threads {
            out.push_str(&format!("   {n:>10}  {tid:>7} \"{}\"\n", sanitize(name)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(json: bool) -> Report {
        Report::new(
            json,
            vec![
                Traced {
                    label: "ptscope_lab_hot".into(),
                    addr: 0x1000,
                    entry: true,
                },
                Traced {
                    label: "0x2004".into(),
                    addr: 0x2004,
                    entry: false,
                },
            ],
        )
    }

    fn hit(tid: Tid, addr: u64) -> TraceHit {
        TraceHit {
            tid,
            name: "burst\x1b[2J".into(),
            addr,
            args: [1, 2, 3, 4, 5, 6],
            stack_top: Some(0x5555_0000_1234),
        }
    }

    #[test]
    fn text_lines_and_summary() {
        let mut r = report(false);
        let at = Duration::from_micros(1_500_250);
        let a = r.hit(at, &hit(42, 0x1000), Some("main+0x14 (ptscope)"));
        let b = r.hit(at, &hit(43, 0x2004), None);
        let c = r.hit(at, &hit(42, 0x1000), None);
        insta::assert_snapshot!(format!(
            "{a}\n{b}\n{c}\n{}",
            r.summary(Duration::from_secs(2), "ended after --for 2")
        ));
    }

    #[test]
    fn json_lines_carry_tid_location_and_args() {
        let mut r = report(true);
        let line = r.hit(
            Duration::from_millis(5),
            &hit(42, 0x1000),
            Some("main+0x14 (ptscope)"),
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["tid"], 42);
        assert_eq!(v["location"], "ptscope_lab_hot");
        assert_eq!(v["args"][0], "0x1");
        assert_eq!(v["args"].as_array().unwrap().len(), 6);
        assert_eq!(v["caller"], "main+0x14 (ptscope)");
        assert_eq!(v["return"], "0x555500001234");
        assert!(!line.contains('\x1b'), "names are sanitised: {line}");
        let other = r.hit(Duration::from_millis(6), &hit(43, 0x2004), None);
        let v: serde_json::Value = serde_json::from_str(&other).unwrap();
        assert!(
            v["return"].is_null(),
            "not a function entry: no return address"
        );
        let s: serde_json::Value =
            serde_json::from_str(&r.summary(Duration::from_secs(1), "process exited")).unwrap();
        assert_eq!(s["summary"]["hits"], 2);
        assert_eq!(s["summary"]["threads"][0]["hits"], 1);
        assert_eq!(s["summary"]["locations"][1]["hits"], 1);
    }
}
