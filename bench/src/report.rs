//! The report: each figure next to its target, as a plain-text table or as Markdown.

use std::{fmt::Write as _, fs, path::Path, thread, time::Duration};

use crate::{
    median,
    server::{Compared, Loaded, Measured},
    tools,
    workspace::Builds,
    wrk,
};

/// The targets: reported, never asserted.
const THROUGHPUT_OF_NGINX: f64 = 0.9;
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
    pub node_version: Result<String, String>,
    /// nginx's master and worker added up, one per load shape.
    pub nginx_peak_rss_kib: Vec<u64>,
    pub builds: Option<Builds>,
}

/// Picks one endpoint's figures out of a load's (`None` where the server has no such endpoint).
type Endpoint = fn(&Loaded) -> Option<Compared>;

/// The two endpoints that are loaded.
const ENDPOINTS: [(&str, Endpoint); 2] = [
    ("GET /", |loaded| Some(loaded.root)),
    ("GET /health", |loaded| loaded.health),
];

/// Picks a latency out of a load's figures.
type Latency = fn(wrk::Figures) -> Duration;

/// The latencies shown.
const LATENCIES: [(&str, Latency); 2] = [("latency p50", |f| f.p50), ("latency p99", |f| f.p99)];

/// A cell of a server's column, given its figures and, for a step, Node.js's (to compare).
type Cell<'a> = dyn Fn(&Measured, Option<&Measured>) -> String + 'a;

/// nginx's figures for one endpoint and load shape: the median of its runs, one before each
/// server's.
struct NginxRuns {
    median: wrk::Figures,
    slowest: f64,
    fastest: f64,
}

impl NginxRuns {
    fn of<'a>(
        servers: impl Iterator<Item = &'a Measured>,
        shape: usize,
        endpoint: Endpoint,
    ) -> Option<NginxRuns> {
        let runs: Vec<wrk::Figures> = servers
            .filter_map(|server| Some(endpoint(server.loads.get(shape)?)?.nginx))
            .collect();
        let rates = || runs.iter().map(|f| f.requests_per_s.round() as u64);
        Some(NginxRuns {
            median: wrk::Figures {
                requests_per_s: median(rates().collect())? as f64,
                p50: median(runs.iter().map(|f| f.p50).collect())?,
                p99: median(runs.iter().map(|f| f.p99).collect())?,
                errors: runs.iter().map(|f| f.errors).sum(),
                cpu_per_request: median(runs.iter().map(|f| f.cpu_per_request).collect())?,
            },
            slowest: rates().min()? as f64,
            fastest: rates().max()? as f64,
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
                    let (slowest, fastest) = (count(runs.slowest), count(runs.fastest));
                    nginx_runs.push(match slowest == fastest {
                        true => format!("{connections} connections {name} {slowest}"),
                        false => format!("{connections} connections {name} {slowest} to {fastest}"),
                    });
                }
            }
        }
        let shapes: Vec<String> = self.connections.iter().map(u32::to_string).collect();
        let node = match &self.node_version {
            Ok(version) => format!(
                "{NODE}: the workshop's app as its step 7 leaves it (bench/node/app.js), one \
                 process as the workshop ran it, with {version}; a step's ratio to it compares \
                 their runs in this same run."
            ),
            Err(reason) => format!("{NODE}: not measured: {}.", first_line(reason)),
        };
        vec![
            format!(
                "Machine: {} cores ({}), load average {} at the start and {} at the end; {}.",
                m.cores, m.cpu, m.load_average, self.load_average_after, m.rustc
            ),
            format!(
                "Load: {}, {} threads, {} connections, {} s per endpoint, on the same cores as \
                 the server it loads.",
                m.wrk,
                load.threads,
                shapes.join(" then "),
                load.duration.as_secs()
            ),
            format!(
                "Reference: {} with one worker, the same bodies, loaded right before each \
                 server on the same endpoint; each ratio to nginx compares those two runs, and \
                 the nginx column shows the median of its runs (requests/s: {}).",
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
        let mut row = |figure: String, target: String, cell: &Cell, nginx: String| {
            let mut row = vec![figure, target];
            row.extend(self.steps.iter().map(|step| cell(step, node)));
            row.push(node.map_or("n/a".into(), |node| cell(node, None)));
            row.push(nginx);
            rows.push(row);
        };

        for (shape, connections) in self.connections.iter().enumerate() {
            let label = |measure: &str| format!("{connections} connections: {measure}");
            for (name, endpoint) in ENDPOINTS {
                let pick = |server: &Measured| endpoint(server.loads.get(shape)?);
                let nginx = NginxRuns::of(self.servers(), shape, endpoint).map(|runs| runs.median);
                let rate = |server: &Measured, node: Option<&Measured>| match pick(server) {
                    None => format!("n/a (no {})", name.trim_start_matches("GET ")),
                    Some(Compared { server, nginx }) => {
                        let of_nginx = server.requests_per_s / nginx.requests_per_s;
                        let node = node.and_then(pick).map(|node| node.server.requests_per_s);
                        let text = compared(
                            count(server.requests_per_s),
                            server.requests_per_s,
                            &[("nginx", Some(nginx.requests_per_s)), (NODE, node)],
                        );
                        with_errors(server, mark(text, of_nginx >= THROUGHPUT_OF_NGINX))
                    }
                };
                let nginx_rate =
                    nginx.map_or("-".into(), |f| with_errors(f, count(f.requests_per_s)));
                let target = format!("≥ {THROUGHPUT_OF_NGINX}× nginx");
                row(
                    label(&format!("{name} requests/s")),
                    target,
                    &rate,
                    nginx_rate,
                );
                for (measure, latency) in LATENCIES {
                    let cell = |server: &Measured, _: Option<&Measured>| {
                        pick(server).map_or("n/a".into(), |c| milliseconds(latency(c.server)))
                    };
                    let nginx = nginx.map_or("-".into(), |f| milliseconds(latency(f)));
                    row(label(&format!("{name} {measure}")), "".into(), &cell, nginx);
                }
                let cpu = |server: &Measured, node: Option<&Measured>| {
                    let Some(figures) = pick(server) else {
                        return "n/a".into();
                    };
                    let seconds = |c: Compared| c.server.cpu_per_request.as_secs_f64();
                    let node = node.and_then(pick).map(seconds);
                    let cpu = seconds(figures);
                    compared(microseconds(cpu), cpu, &[(NODE, node)])
                };
                let nginx = nginx.map_or("-".into(), |f| {
                    microseconds(f.cpu_per_request.as_secs_f64())
                });
                let measure = format!("{name} server CPU per request");
                row(label(&measure), "".into(), &cpu, nginx);
            }
            let has_target = *connections <= PEAK_RSS_CONNECTIONS;
            let peak = |server: &Measured, node: Option<&Measured>| {
                let peak = |server: &Measured| Some(server.loads.get(shape)?.peak_rss_kib);
                let Some(kib) = peak(server) else {
                    return "n/a".into();
                };
                let text = compared(
                    kib_text(kib),
                    kib as f64,
                    &[(NODE, node.and_then(peak).map(|k| k as f64))],
                );
                match has_target {
                    true => mark(text, kib as f64 / 1024.0 <= PEAK_RSS_MIB),
                    false => text,
                }
            };
            let target = match has_target {
                true => format!("≤ {PEAK_RSS_MIB} MiB"),
                false => String::new(),
            };
            let nginx = self.nginx_peak_rss_kib.get(shape).copied();
            let nginx = nginx.map_or("-".into(), |kib| {
                format!("{} (master + worker)", kib_text(kib))
            });
            row(label("peak RSS"), target, &peak, nginx);
        }

        let idle = |server: &Measured, node: Option<&Measured>| {
            let kib = |server: &Measured| server.start_stop.idle_rss_kib as f64;
            let text = kib_text(server.start_stop.idle_rss_kib);
            compared(text, kib(server), &[(NODE, node.map(kib))])
        };
        row(
            "RSS at idle, after start".into(),
            "".into(),
            &idle,
            "-".into(),
        );
        let ready = |server: &Measured, _: Option<&Measured>| {
            let ready = server.start_stop.ready;
            mark(milliseconds(ready), ready <= READY)
        };
        let target = format!("≤ {} ms", READY.as_millis());
        row("exec to readiness line".into(), target, &ready, "-".into());
        let stop = |server: &Measured, _: Option<&Measured>| match server.start_stop.stop {
            Some(stop) => mark(milliseconds(stop), stop <= STOP),
            None => "n/a (no handler)".into(),
        };
        let target = format!("≤ {} ms", STOP.as_millis());
        row("SIGTERM to exit, idle".into(), target, &stop, "-".into());
        let size = |server: &Measured, _: Option<&Measured>| {
            let mib = |bytes| format!("{:.2} MiB", mebibytes(bytes));
            server.binary_bytes.map_or("-".into(), mib)
        };
        row("release binary".into(), "".into(), &size, "-".into());
        let image =
            |server: &Measured, _: Option<&Measured>| server.image.clone().unwrap_or("-".into());
        row("image".into(), "".into(), &image, "-".into());

        if let Err(reason) = &self.node {
            let column = rows[0].len() - 2;
            rows[1][column] = format!("n/a ({})", first_line(reason));
        }
        rows
    }

    /// The build times, when measured.
    fn builds(&self) -> Option<Vec<Vec<String>>> {
        let builds = self.builds.as_ref()?;
        let seconds = |d: Duration| format!("{:.1} s", d.as_secs_f64());
        let clean = mark(
            seconds(builds.clean_workspace),
            builds.clean_workspace <= CLEAN_BUILD,
        );
        let step = &builds.touched;
        Some(vec![
            vec!["debug build".into(), "target".into(), "time".into()],
            vec![
                "clean, `cargo build --workspace`".into(),
                format!("≤ {} s", CLEAN_BUILD.as_secs()),
                clean,
            ],
            vec![
                format!("incremental, {step}/src/main.rs touched"),
                String::new(),
                seconds(builds.incremental),
            ],
            vec![
                format!("clean, `cargo build -p {step}` alone"),
                String::new(),
                seconds(builds.clean_step),
            ],
        ])
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
/// `41,210 (1.25× nginx, 9.8× Node.js)`, `5.5 µs (1/20 of Node.js)`.
fn compared(text: String, value: f64, to: &[(&str, Option<f64>)]) -> String {
    let ratios: Vec<String> = to
        .iter()
        .filter_map(|&(name, of)| Some(ratio(value / of?, name)))
        .collect();
    match ratios.is_empty() {
        true => text,
        false => format!("{text} ({})", ratios.join(", ")),
    }
}

/// A ratio to `name`: two decimals up to 10, one above, and a fraction below 0.1.
fn ratio(value: f64, name: &str) -> String {
    match value {
        ..0.1 => format!("1/{:.0} of {name}", 1.0 / value),
        ..10.0 => format!("{value:.2}× {name}"),
        _ => format!("{value:.1}× {name}"),
    }
}

fn microseconds(seconds: f64) -> String {
    format!("{:.1} µs", seconds * 1e6)
}

fn kib_text(kib: u64) -> String {
    format!("{:.1} MiB", mebibytes(kib * 1024))
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

fn milliseconds(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1e3;
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
        assert_eq!(milliseconds(Duration::from_micros(248)), "0.25 ms");
        assert_eq!(milliseconds(Duration::from_micros(16530)), "16.5 ms");
    }

    #[test]
    fn ratios_stay_readable_from_small_to_large() {
        assert_eq!(compared("x".into(), 1.0, &[("nginx", None)]), "x");
        let both = [("nginx", Some(0.8)), ("Node.js", Some(0.05))];
        assert_eq!(
            compared("x".into(), 1.0, &both),
            "x (1.25× nginx, 20.0× Node.js)"
        );
        assert_eq!(ratio(0.05, "Node.js"), "1/20 of Node.js");
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
