//! A `compare` report as Markdown (tables with ratios to the direct baseline) and as two SVG
//! plots (latency percentiles per target, throughput against p99), and `plan`'s sizing.

use std::fmt::Write;

use crate::compare::{Report, Row};

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn baseline<'r>(report: &'r Report, scenario: &str) -> Option<&'r Row> {
    report
        .runs
        .iter()
        .find(|r| r.target == "direct" && r.scenario == scenario)
}

pub fn markdown(report: &Report) -> String {
    let m = &report.machine;
    let mut s = format!(
        "# warden-loadtest compare — {}\n\nMachine: {}, {} cores, Linux {}. Placement: {}.\n\
         Open loop, {} s per run; every target at the same offered rate per scenario; latency from each \
         request's due time to its last byte. `added` = target minus the direct baseline at the same rate.\n\n",
        report.date, m.cpu, m.cores, m.kernel, m.placement, report.duration_s
    );
    for scenario in ["chat", "stream"] {
        let _ = writeln!(
            s,
            "## {scenario}\n\n| target | offered req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | added p50 ms | added p99 ms | p99 vs direct | first content p50 ms | errors | CPU s | RSS MB |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        let base = baseline(report, scenario);
        for r in report.runs.iter().filter(|r| r.scenario == scenario) {
            let ratio = base.filter(|b| b.p99_us > 0).map_or("—".to_owned(), |b| {
                format!("{:.2}×", r.p99_us as f64 / b.p99_us as f64)
            });
            let _ = writeln!(
                s,
                "| {} | {:.0} | {:.0} | {} | {} | {} | {:+.2} | {:+.2} | {ratio} | {} | {} | {:.2} | {:.0} |",
                r.target,
                r.offered_rps,
                r.achieved_rps,
                ms(r.p50_us),
                ms(r.p99_us),
                ms(r.p999_us),
                r.added_p50_us as f64 / 1000.0,
                r.added_p99_us as f64 / 1000.0,
                ms(r.first_content_p50_us),
                r.errors,
                r.cpu_s,
                r.rss_mb
            );
        }
        s.push('\n');
    }
    if !report.skipped.is_empty() {
        s.push_str("## Skipped\n\n");
        for k in &report.skipped {
            let _ = writeln!(s, "- {}: {}", k.target, k.reason);
        }
    }
    s
}

const COLORS: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
];

fn targets(report: &Report) -> Vec<String> {
    let mut t: Vec<String> = Vec::new();
    for r in &report.runs {
        if !t.contains(&r.target) {
            t.push(r.target.clone());
        }
    }
    t
}

/// One coloured swatch and name per target, in a row from `x0` at height `y`.
fn legend(s: &mut String, names: &[String], x0: f64, y: f64, step: f64) {
    for (i, name) in names.iter().enumerate() {
        let x = x0 + i as f64 * step;
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"{y}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{name}</text>",
            COLORS[i % COLORS.len()],
            x + 14.0,
            y + 9.0
        );
    }
}

/// Grouped bars: p50 and p99 per target, one group per scenario (log scale not needed: ms).
pub fn latency_svg(report: &Report) -> String {
    let names = targets(report);
    let max = report
        .runs
        .iter()
        .map(|r| r.p99_us)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    // Log scale from 1 ms: peers differ by orders of magnitude.
    let scale =
        |us: f64| (us / 1000.0).max(1.0).ln() / (max / 1000.0).max(std::f64::consts::E).ln();
    let (w, h, top, left) = (760.0, 360.0, 40.0, 60.0);
    let plot_h = h - top - 60.0;
    let group_w = (w - left - 20.0) / 2.0;
    let bar_w = (group_w - 40.0) / (names.len().max(1) as f64 * 2.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n<text x=\"{left}\" y=\"20\" font-size=\"14\">Latency p50 (light) and p99 (dark) at the same offered rate, ms, log scale from 1 ms</text>\n"
    );
    for (g, scenario) in ["chat", "stream"].iter().enumerate() {
        let x0 = left + g as f64 * group_w;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\">{scenario}</text>",
            x0 + group_w / 2.0 - 15.0,
            h - 10.0
        );
        for (i, name) in names.iter().enumerate() {
            let Some(r) = report
                .runs
                .iter()
                .find(|r| &r.target == name && r.scenario == *scenario)
            else {
                continue;
            };
            for (j, (v, opacity)) in [(r.p50_us, 0.5), (r.p99_us, 1.0)].iter().enumerate() {
                let bh = scale(*v as f64) * plot_h;
                let x = x0 + 20.0 + (i * 2 + j) as f64 * bar_w;
                let _ = writeln!(
                    s,
                    "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\" fill-opacity=\"{opacity}\"><title>{name} {scenario} {} ms</title></rect>",
                    top + plot_h - bh,
                    bar_w - 2.0,
                    COLORS[i % COLORS.len()],
                    ms(*v)
                );
            }
        }
    }
    legend(&mut s, &names, left, h - 40.0, 110.0);
    let _ = writeln!(
        s,
        "<text x=\"5\" y=\"{}\">{} ms</text>",
        top + 4.0,
        ms(max as u64)
    );
    s.push_str("</svg>\n");
    s
}

/// Achieved throughput against p99 latency, one point per target and scenario.
pub fn throughput_svg(report: &Report) -> String {
    let names = targets(report);
    let max_rps = report
        .runs
        .iter()
        .map(|r| r.achieved_rps)
        .fold(1.0, f64::max);
    let max_p99 = report
        .runs
        .iter()
        .map(|r| r.p99_us)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let (w, h, m) = (640.0, 400.0, 60.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n<text x=\"{m}\" y=\"20\" font-size=\"14\">Achieved req/s (x) against p99 ms (y); circles chat, squares stream</text>\n<line x1=\"{m}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#888\"/>\n<line x1=\"{m}\" y1=\"{m}\" x2=\"{m}\" y2=\"{}\" stroke=\"#888\"/>\n<text x=\"{}\" y=\"{}\">{max_rps:.0} req/s</text>\n<text x=\"5\" y=\"{}\">{} ms</text>\n",
        h - m,
        w - 20.0,
        h - m,
        h - m,
        w - 90.0,
        h - m + 15.0,
        m + 4.0,
        ms(max_p99 as u64)
    );
    for r in &report.runs {
        let i = names.iter().position(|n| *n == r.target).unwrap_or(0);
        let x = m + r.achieved_rps / max_rps * (w - m - 30.0);
        let y = h - m - r.p99_us as f64 / max_p99 * (h - 2.0 * m);
        let color = COLORS[i % COLORS.len()];
        let title = format!(
            "{} {}: {:.0} req/s, p99 {} ms",
            r.target,
            r.scenario,
            r.achieved_rps,
            ms(r.p99_us)
        );
        if r.scenario == "chat" {
            let _ = writeln!(s, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"6\" fill=\"{color}\"><title>{title}</title></circle>");
        } else {
            let _ = writeln!(s, "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"11\" height=\"11\" fill=\"{color}\"><title>{title}</title></rect>", x - 5.5, y - 5.5);
        }
    }
    legend(&mut s, &names, m, h - 25.0, 95.0);
    s.push_str("</svg>\n");
    s
}

/// `plan`: hosts and shards for a target rate, from a measured per-core capacity.
#[derive(serde::Serialize, Debug, PartialEq)]
pub struct Plan {
    pub target_rps: f64,
    pub p99_ms: f64,
    pub per_core_rps: f64,
    pub cores_per_host: usize,
    pub shards_per_host: usize,
    pub headroom: f64,
    pub hosts: usize,
    /// Share of the fleet's capacity the target rate uses.
    pub utilisation: f64,
}

/// Shards: one per core, less one for the audit drain and the OS on hosts of four cores or more.
/// Hosts: enough that the target rate uses at most `1 - headroom` of the capacity.
pub fn plan(
    target_rps: f64,
    p99_ms: f64,
    per_core_rps: f64,
    cores_per_host: usize,
    headroom: f64,
) -> Plan {
    let shards = if cores_per_host >= 4 {
        cores_per_host - 1
    } else {
        cores_per_host.max(1)
    };
    let usable = per_core_rps * shards as f64 * (1.0 - headroom);
    let hosts = (target_rps / usable.max(f64::MIN_POSITIVE)).ceil().max(1.0) as usize;
    Plan {
        target_rps,
        p99_ms,
        per_core_rps,
        cores_per_host,
        shards_per_host: shards,
        headroom,
        hosts,
        utilisation: target_rps / (per_core_rps * shards as f64 * hosts as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_keeps_the_headroom() {
        let p = plan(10_000.0, 50.0, 2_000.0, 8, 0.3);
        assert_eq!(p.shards_per_host, 7);
        // 7 shards × 2000 × 0.7 = 9800 usable per host: two hosts.
        assert_eq!(p.hosts, 2);
        assert!(p.utilisation < 0.7);
    }
}
