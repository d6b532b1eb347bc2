//! The report: each figure next to its target, as a plain-text table or as Markdown.

use std::{fmt::Write as _, fs, path::Path, thread, time::Duration};

use crate::{
    server::{Compared, Loaded, Measured},
    tools, wrk,
};

/// The targets: reported, never asserted.
const THROUGHPUT_OF_NGINX: f64 = 1.0;
/// A step's p99 latency at most this many times nginx's, in the same run.
const P99_OF_NGINX: f64 = 1.5;
const PEAK_RSS_MIB: f64 = 8.0;
/// The peak RSS target holds for loads of up to this many connections.
const PEAK_RSS_CONNECTIONS: u32 = 50;
const READY: Duration = Duration::from_millis(20);
const STOP: Duration = Duration::from_millis(50);
const CLEAN_BUILD: Duration = Duration::from_secs(60);

/// The header of the workshop's app's column.
const NODE: &str = "Node.js";

pub struct Machine {
    cores: usize,
    cpu: String,
    load_average: String,
    rustc: String,
    wrk: String,
    nginx: String,
}

impl Machine {
    /// Describes this machine and the tools, as the run starts.
    pub fn describe(load: &wrk::Load, nginx: &Path) -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
            .map_or("unknown CPU".into(), |(_, model)| model.trim().to_string());
        let nginx = tools::version(nginx, "-v").unwrap_or_default();
        Machine {
            cores: thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            load_average: load_average(),
            rustc: tools::version(Path::new("rustc"), "--version").unwrap_or_default(),
            wrk: load.version(),
            nginx: nginx.trim_start_matches("nginx version: ").to_string(),
        }
    }
}

/// The load averages over 1, 5 and 15 minutes.
pub fn load_average() -> String {
    let loadavg = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

pub struct Report {
    pub machine: Machine,
    pub load_average_after: String,
    pub load: wrk::Load,
    /// The load shapes: connections kept open.
    pub connections: Vec<u32>,
    pub runs: usize,
    pub steps: Vec<Measured>,
    /// The workshop's app, or why it was not measured.
    pub node: Result<Measured, String>,
    /// Which Node.js and hapi ran it.
    pub node_version: String,
    /// nginx's master and worker added up, one per load shape.
    pub nginx_peak_rss_kib: Vec<u64>,
    /// Debug builds and their times, when measured.
    pub builds: Option<Vec<(String, Duration)>>,
}

/// Picks one endpoint's figures out of a load's (`None` where the server has no such endpoint).
type Endpoint = fn(&Loaded) -> Option<Compared>;

/// The two endpoints that are loaded.
const ENDPOINTS: [(&str, Endpoint); 2] = [
    ("GET /", |loaded| Some(loaded.root)),
    ("GET /health", |loaded| loaded.health),
];

/// Writes a quantity: seconds, or KiB.
type Show = fn(f64) -> String;

/// Whether a quantity meets its target.
type Met = dyn Fn(f64) -> bool;

fn peak_met(kib: f64) -> bool {
    kib / 1024.0 <= PEAK_RSS_MIB
}

/// A cell of one quantity, which `value` picks out of a server's figures ("n/a" where it has
/// none): written by `show`, with a step's ratio to Node.js's, marked by `met` where there is
/// a target.
fn quantity<'a>(
    value: &'a dyn Fn(&Measured) -> Option<f64>,
    show: Show,
    met: Option<&'a Met>,
) -> impl Fn(&Measured, Option<&Measured>) -> String + 'a {
    move |server, node| {
        let Some(v) = value(server) else {
            return "n/a".into();
        };
        let text = compared(show(v), "", v, &[(NODE, node.and_then(value))]);
        met.map_or(text.clone(), |met| mark(text, met(v)))
    }
}

/// Picks a duration out of a load's figures.
type Pick = fn(wrk::Figures) -> Duration;

/// The figures of each load besides its rate, how they are written, and whether a step's is
/// compared with Node.js's.
const MEASURES: [(&str, Pick, Show, bool); 2] = [
    ("latency p50", |f| f.p50, milliseconds, false),
    (
        "server CPU per request",
        |f| f.cpu_per_request,
        microseconds,
        true,
    ),
];

/// A cell of a server's column, given its figures and, for a step, Node.js's (to compare).
type Cell<'a> = dyn Fn(&Measured, Option<&Measured>) -> String + 'a;

/// nginx's figures for one endpoint and load shape: the medians of its runs, loaded before
/// each server's, and the slowest and fastest of them all.
struct NginxRuns;

impl NginxRuns {
    fn of<'a>(
        servers: impl Iterator<Item = &'a Measured>,
        shape: usize,
        endpoint: Endpoint,
    ) -> Option<wrk::Figures> {
        let runs: Vec<wrk::Figures> = servers
            .filter_map(|server| Some(endpoint(server.loads.get(shape)?)?.nginx))
            .collect();
        let all = wrk::Figures::of(&runs)?;
        let lowest = |pairs: &mut dyn Iterator<Item = f64>| pairs.fold(f64::INFINITY, f64::min);
        let highest = |pairs: &mut dyn Iterator<Item = f64>| pairs.fold(0.0, f64::max);
        Some(wrk::Figures {
            rate_range: (
                lowest(&mut runs.iter().map(|r| r.rate_range.0)),
                highest(&mut runs.iter().map(|r| r.rate_range.1)),
            ),
            p99_range: (
                runs.iter().map(|r| r.p99_range.0).min()?,
                runs.iter().map(|r| r.p99_range.1).max()?,
            ),
            ..all
        })
    }
}

impl Report {
    /// Plain text, for a terminal.
    pub fn text(&self) -> String {
        self.render("", aligned)
    }

    /// Markdown, for docs/benchmarks.md.
    pub fn markdown(&self) -> String {
        self.render("- ", markdown_table)
    }

    /// The conditions, a line each after `bullet`, then the tables drawn by `table`.
    fn render(&self, bullet: &str, table: fn(&[Vec<String>]) -> String) -> String {
        let mut text = String::new();
        for line in self.conditions() {
            let _ = writeln!(text, "{bullet}{line}");
        }
        let tables = [Some(self.figures()), self.builds()];
        for rows in tables.iter().flatten() {
            text.push('\n');
            text.push_str(&table(rows));
        }
        text
    }

    /// Every server measured: the steps, then Node.js where it ran.
    fn servers(&self) -> impl Iterator<Item = &Measured> {
        self.steps.iter().chain(self.node.as_ref().ok())
    }

    /// What the figures were taken on and with, one line each.
    fn conditions(&self) -> Vec<String> {
        let (m, load) = (&self.machine, &self.load);
        let mut nginx_runs = vec![];
        for (shape, connections) in self.connections.iter().enumerate() {
            for (name, endpoint) in ENDPOINTS {
                let runs = NginxRuns::of(self.servers(), shape, endpoint);
                if let Some(runs) = runs {
                    let (slowest, fastest) = (count(runs.rate_range.0), count(runs.rate_range.1));
                    nginx_runs.push(match slowest == fastest {
                        true => format!("{connections} connections {name} {slowest}"),
                        false => format!("{connections} connections {name} {slowest} to {fastest}"),
                    });
                }
            }
        }
        let shapes: Vec<String> = self.connections.iter().map(u32::to_string).collect();
        let node = match &self.node {
            Ok(_) => format!(
                "{NODE}: the workshop's app as its step 7 leaves it (bench/node/app.js), one \
                 process as the workshop ran it, with {}; a step's ratio to it compares their \
                 runs in this same run.",
                self.node_version
            ),
            Err(reason) => format!("{NODE}: not measured: {}.", first_line(reason)),
        };
        vec![
            format!(
                "Machine: {} cores ({}), load average {} at the start and {} after the loads; {}.",
                m.cores, m.cpu, m.load_average, self.load_average_after, m.rustc
            ),
            format!(
                "Cores: {}. Load: {}, {} thread(s), {} connections, {} s per endpoint, {} times \
                 on each server, alternating with nginx; a figure is the median of those runs, \
                 with the slowest and fastest run's in brackets.",
                load.cores().describe(),
                m.wrk,
                load.threads,
                shapes.join(" then "),
                load.duration.as_secs(),
                load.runs,
            ),
            format!(
                "Reference: {} with one worker, the same bodies, loaded right before each of a \
                 server's runs on the same endpoint; each ratio to nginx compares their medians, \
                 and the nginx column shows the median of all its runs (requests/s: {}).",
                m.nginx,
                nginx_runs.join("; ")
            ),
            node,
            format!(
                "Start and stop: medians of {} runs of each server, idle; each load shape \
                 starts every server anew.",
                self.runs
            ),
        ]
    }

    /// The main table: a row per figure, a column per step, then Node.js and nginx.
    fn figures(&self) -> Vec<Vec<String>> {
        let mut header = vec!["figure".to_string(), "target".to_string()];
        header.extend(self.steps.iter().map(|step| step.name.clone()));
        header.extend([NODE.to_string(), "nginx".to_string()]);
        let mut rows = vec![header];
        let node = self.node.as_ref().ok();
        let mut row = |figure: String, target: &str, cell: &Cell, nginx: String| {
            let mut row = vec![figure, target.to_string()];
            row.extend(self.steps.iter().map(|step| cell(step, node)));
            row.push(node.map_or("n/a".into(), |node| cell(node, None)));
            row.push(nginx);
            rows.push(row);
        };

        for (shape, connections) in self.connections.iter().enumerate() {
            let label = |measure: &str| format!("{connections} connections: {measure}");
            for (name, endpoint) in ENDPOINTS {
                let pick = |server: &Measured| endpoint(server.loads.get(shape)?);
                let nginx = NginxRuns::of(self.servers(), shape, endpoint);
                // An image's figures are compared with its step's binary, in this same run.
                let binary = |server: &Measured| {
                    let step = self
                        .steps
                        .iter()
                        .find(|s| Some(&s.name) == server.binary_of.as_ref());
                    step.and_then(pick).map(|binary| binary.server)
                };
                let rate = |server: &Measured, node: Option<&Measured>| match pick(server) {
                    None => format!("n/a (no {})", name.trim_start_matches("GET ")),
                    Some(Compared {
                        server: figures,
                        nginx,
                    }) => {
                        let rate = figures.requests_per_s;
                        let node = node.and_then(pick).map(|node| node.server.requests_per_s);
                        let to = [
                            ("nginx", Some(nginx.requests_per_s)),
                            ("its binary", binary(server).map(|b| b.requests_per_s)),
                            (NODE, node),
                        ];
                        let met = rate / nginx.requests_per_s >= THROUGHPUT_OF_NGINX;
                        let (low, high) = figures.rate_range;
                        let spread = format!("{}–{}", count(low), count(high));
                        with_errors(
                            figures,
                            mark(compared(count(rate), &spread, rate, &to), met),
                        )
                    }
                };
                let spread = |f: wrk::Figures| {
                    format!("{}–{}", count(f.rate_range.0), count(f.rate_range.1))
                };
                let nginx_rate = nginx.map(|f| {
                    with_errors(f, compared(count(f.requests_per_s), &spread(f), 0.0, &[]))
                });
                let target = format!("≥ {THROUGHPUT_OF_NGINX}× nginx");
                let figure = label(&format!("{name} requests/s"));
                row(figure, &target, &rate, nginx_rate.unwrap_or("-".into()));
                let p99 = |server: &Measured, _: Option<&Measured>| match pick(server) {
                    None => "n/a".into(),
                    Some(Compared {
                        server: figures,
                        nginx,
                    }) => {
                        let p99 = seconds(figures.p99);
                        let to = [
                            ("nginx", Some(seconds(nginx.p99))),
                            ("its binary", binary(server).map(|b| seconds(b.p99))),
                        ];
                        let met = p99 <= P99_OF_NGINX * seconds(nginx.p99);
                        let (low, high) = figures.p99_range;
                        let spread = format!(
                            "{}–{}",
                            milliseconds(seconds(low)),
                            milliseconds(seconds(high))
                        );
                        mark(compared(milliseconds(p99), &spread, p99, &to), met)
                    }
                };
                let nginx_p99 = nginx.map(|f| {
                    let (low, high) = f.p99_range;
                    let spread = format!(
                        "{}–{}",
                        milliseconds(seconds(low)),
                        milliseconds(seconds(high))
                    );
                    compared(milliseconds(seconds(f.p99)), &spread, 0.0, &[])
                });
                let target = format!("≤ {P99_OF_NGINX}× nginx");
                let figure = label(&format!("{name} latency p99"));
                row(figure, &target, &p99, nginx_p99.unwrap_or("-".into()));
                for (measure, duration, show, to_node) in MEASURES {
                    let value = |server: &Measured| Some(seconds(duration(pick(server)?.server)));
                    let nginx = nginx.map(|f| show(seconds(duration(f))));
                    let figure = label(&format!("{name} {measure}"));
                    let cell = quantity(&value, show, None);
                    let cell = |server: &Measured, node: Option<&Measured>| {
                        cell(server, node.filter(|_| to_node))
                    };
                    row(figure, "", &cell, nginx.unwrap_or("-".into()));
                }
                // Near 1 core per wrk thread, the load generator was the limit, not the server.
                let cores = |f: wrk::Figures| format!("{:.2} cores", f.load_cpu);
                let load_cpu = |server: &Measured, _: Option<&Measured>| {
                    pick(server).map_or("n/a".into(), |c| cores(c.server))
                };
                let figure = label(&format!("{name} wrk's CPU"));
                row(figure, "", &load_cpu, nginx.map_or("-".into(), cores));
            }
            // The peak RSS target holds for up to 50 connections.
            let (target, met) = match *connections <= PEAK_RSS_CONNECTIONS {
                true => (format!("≤ {PEAK_RSS_MIB} MiB"), Some(&peak_met as &Met)),
                false => (String::new(), None),
            };
            let value = |server: &Measured| Some(server.loads.get(shape)?.peak_rss_kib as f64);
            let nginx = self.nginx_peak_rss_kib.get(shape);
            let nginx = nginx.map(|&kib| format!("{} (master + worker)", kibibytes(kib as f64)));
            let cell = quantity(&value, kibibytes, met);
            row(
                label("peak RSS"),
                &target,
                &cell,
                nginx.unwrap_or("-".into()),
            );
        }

        let idle = |server: &Measured| Some(server.start_stop.idle_rss_kib as f64);
        let cell = quantity(&idle, kibibytes, None);
        row("RSS at idle, after start".into(), "", &cell, "-".into());
        let ready = |server: &Measured| Some(seconds(server.start_stop.ready));
        let met = |s: f64| s <= READY.as_secs_f64();
        let cell = quantity(&ready, milliseconds, Some(&met));
        let target = format!("≤ {} ms", READY.as_millis());
        row("exec to readiness line".into(), &target, &cell, "-".into());
        let stop = |server: &Measured| server.start_stop.stop.map(seconds);
        let met = |s: f64| s <= STOP.as_secs_f64();
        let cell = quantity(&stop, milliseconds, Some(&met));
        let cell = |server: &Measured, node: Option<&Measured>| match server.start_stop.stop {
            Some(_) => cell(server, node),
            None => "n/a (no handler)".into(),
        };
        let target = format!("≤ {} ms", STOP.as_millis());
        row("SIGTERM to exit, idle".into(), &target, &cell, "-".into());
        let size = |server: &Measured, _: Option<&Measured>| {
            let mib = |bytes| format!("{:.2} MiB", mebibytes(bytes));
            server.binary_bytes.map_or("-".into(), mib)
        };
        row("release binary".into(), "", &size, "-".into());
        let image =
            |server: &Measured, _: Option<&Measured>| server.image.clone().unwrap_or("-".into());
        row("image".into(), "", &image, "-".into());

        if let Err(reason) = &self.node {
            let column = rows[0].len() - 2;
            rows[1][column] = format!("n/a ({})", first_line(reason));
        }
        rows
    }

    /// The build times, when measured.
    fn builds(&self) -> Option<Vec<Vec<String>>> {
        let mut rows = vec![vec!["debug build".into(), "target".into(), "time".into()]];
        for (i, (build, took)) in self.builds.as_ref()?.iter().enumerate() {
            let time = format!("{:.1} s", seconds(*took));
            // The target is the first build's: the whole workspace from nothing.
            rows.push(match i {
                0 => {
                    let target = format!("≤ {} s", CLEAN_BUILD.as_secs());
                    vec![build.clone(), target, mark(time, *took <= CLEAN_BUILD)]
                }
                _ => vec![build.clone(), String::new(), time],
            });
        }
        Some(rows)
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// `text`, followed by errors where the load had any.
fn with_errors(figures: wrk::Figures, text: String) -> String {
    match figures.errors {
        0 => text,
        n => format!("{text}, {n} errors"),
    }
}

/// `text` followed by `value`'s ratio to each named reference that was measured:
/// `41,210 (1.25× nginx, 9.8× Node.js)`, `5.5 µs (1/20 of Node.js)`; with a `spread`, it
/// comes first: `41,210 (40,100–42,000; 1.25× nginx)`.
fn compared(text: String, spread: &str, value: f64, to: &[(&str, Option<f64>)]) -> String {
    let mut parts: Vec<String> = (!spread.is_empty())
        .then(|| spread.to_string())
        .into_iter()
        .collect();
    let ratios: Vec<String> = to
        .iter()
        .filter_map(|&(name, of)| Some(ratio(value / of?, name)))
        .collect();
    if !ratios.is_empty() {
        parts.push(ratios.join(", "));
    }
    match parts.is_empty() {
        true => text,
        false => format!("{text} ({})", parts.join("; ")),
    }
}

/// A ratio to `name`: a fraction below a half, else two decimals up to 10 and one above.
fn ratio(value: f64, name: &str) -> String {
    let one_in = 1.0 / value;
    match value {
        ..0.1 => format!("1/{one_in:.0} of {name}"),
        ..0.5 => format!("1/{one_in:.1} of {name}"),
        ..10.0 => format!("{value:.2}× {name}"),
        _ => format!("{value:.1}× {name}"),
    }
}

fn seconds(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

fn microseconds(seconds: f64) -> String {
    format!("{:.1} µs", seconds * 1e6)
}

fn kibibytes(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

/// `text` followed by ✓ when the target is met, ✗ when it is not.
fn mark(text: String, met: bool) -> String {
    format!("{text} {}", if met { "✓" } else { "✗" })
}

/// A whole number with thousands separated: 143,210.
fn count(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

fn milliseconds(seconds: f64) -> String {
    let ms = seconds * 1e3;
    match ms < 1.0 {
        true => format!("{ms:.2} ms"),
        false => format!("{ms:.1} ms"),
    }
}

fn mebibytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Rows (the first is the header) as columns padded to the same width.
fn aligned(rows: &[Vec<String>]) -> String {
    let columns = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, &width)| format!("{cell:width$}"))
            .collect();
        let _ = writeln!(text, "{}", cells.join("  ").trim_end());
        if i == 0 {
            let rules: Vec<String> = widths.iter().map(|&width| "-".repeat(width)).collect();
            let _ = writeln!(text, "{}", rules.join("  "));
        }
    }
    text
}

/// Rows (the first is the header) as a Markdown table.
fn markdown_table(rows: &[Vec<String>]) -> String {
    let mut markdown = String::new();
    for (i, row) in rows.iter().enumerate() {
        let _ = writeln!(markdown, "| {} |", row.join(" | "));
        if i == 0 {
            let _ = writeln!(markdown, "|{}", "---|".repeat(row.len()));
        }
    }
    markdown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separated() {
        assert_eq!(count(7.4), "7");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1000.0), "1,000");
        assert_eq!(count(143574.75), "143,575");
        assert_eq!(count(1234567.0), "1,234,567");
    }

    #[test]
    fn durations_keep_two_significant_digits_below_a_millisecond() {
        assert_eq!(milliseconds(248e-6), "0.25 ms");
        assert_eq!(milliseconds(16530e-6), "16.5 ms");
    }

    #[test]
    fn ratios_stay_readable_from_small_to_large() {
        assert_eq!(compared("x".into(), "", 1.0, &[("nginx", None)]), "x");
        let both = [("nginx", Some(0.8)), ("Node.js", Some(0.05))];
        assert_eq!(
            compared("x".into(), "", 1.0, &both),
            "x (1.25× nginx, 20.0× Node.js)"
        );
        assert_eq!(
            compared("x".into(), "0.9–1.1", 1.0, &both[..1]),
            "x (0.9–1.1; 1.25× nginx)"
        );
        assert_eq!(compared("x".into(), "0.9–1.1", 1.0, &[]), "x (0.9–1.1)");
        assert_eq!(ratio(0.05, "Node.js"), "1/20 of Node.js");
        assert_eq!(ratio(0.21, "Node.js"), "1/4.8 of Node.js");
        assert_eq!(ratio(0.57, "nginx"), "0.57× nginx");
    }

    #[test]
    fn marks_say_whether_the_target_is_met() {
        assert_eq!(mark("1.1 ms".into(), true), "1.1 ms ✓");
        assert_eq!(mark("61.0 s".into(), false), "61.0 s ✗");
    }

    #[test]
    fn tables_line_up_and_convert_to_markdown() {
        let rows = [["figure", "step-02-hello"], ["ready", "1.2 ms ✓"]]
            .map(|row| row.map(String::from).to_vec())
            .to_vec();
        assert_eq!(
            aligned(&rows),
            "figure  step-02-hello\n------  -------------\nready   1.2 ms ✓\n"
        );
        assert_eq!(
            markdown_table(&rows),
            "| figure | step-02-hello |\n|---|---|\n| ready | 1.2 ms ✓ |\n"
        );
    }
}
