//! The report: each figure next to its target, as a plain-text table or as Markdown.

use std::{fmt::Write as _, fs, path::Path, process::Command, thread, time::Duration};

use super::{
    builds::Builds,
    median,
    process::{Compared, Loaded, StartStop},
    wrk,
};

/// The targets: reported, never asserted.
const THROUGHPUT_OF_NGINX: f64 = 0.9;
const PEAK_RSS_MIB: f64 = 8.0;
const READY: Duration = Duration::from_millis(20);
const STOP: Duration = Duration::from_millis(50);
const CLEAN_BUILD: Duration = Duration::from_secs(60);

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
        let read = |path: &str| fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
            .map_or("unknown CPU".into(), |(_, model)| model.trim().to_string());
        let loadavg = read("/proc/loadavg");
        let load_average = loadavg.split_whitespace().take(3).collect::<Vec<_>>();
        let version = |program: &Path, arg: &str| {
            let output = Command::new(program).arg(arg).output().ok();
            let output = output.map_or(Vec::new(), |o| [o.stdout, o.stderr].concat());
            let text = String::from_utf8_lossy(&output);
            text.lines().next().unwrap_or_default().to_string()
        };
        let nginx = version(nginx, "-v");
        Machine {
            cores: thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            load_average: load_average.join(" "),
            rustc: version(Path::new("rustc"), "--version"),
            wrk: load.version(),
            nginx: nginx.trim_start_matches("nginx version: ").to_string(),
        }
    }
}

/// One step's figures.
pub struct StepFigures {
    pub name: String,
    pub start_stop: StartStop,
    pub loaded: Loaded,
    pub binary_bytes: u64,
    pub image: String,
}

pub struct Report {
    pub machine: Machine,
    pub load: wrk::Load,
    pub runs: usize,
    pub steps: Vec<StepFigures>,
    pub nginx_peak_rss_kib: u64,
    pub builds: Option<Builds>,
}

/// Picks one endpoint's figures out of a step's (`None` where the step has no such endpoint).
type Endpoint = fn(&Loaded) -> Option<Compared>;

/// Shows one of a load's figures.
type Show = fn(wrk::Figures) -> String;

/// The two endpoints that are loaded.
const ENDPOINTS: [(&str, Endpoint); 2] = [
    ("GET /", |loaded| Some(loaded.root)),
    ("GET /health", |loaded| loaded.health),
];

/// nginx's figures for one endpoint: the median of its runs, one before each step's.
struct NginxRuns {
    median: wrk::Figures,
    slowest: f64,
    fastest: f64,
}

impl NginxRuns {
    fn of(steps: &[StepFigures], endpoint: Endpoint) -> Option<NginxRuns> {
        let runs: Vec<wrk::Figures> = steps
            .iter()
            .filter_map(|step| Some(endpoint(&step.loaded)?.nginx))
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

    /// What the figures were taken on and with, one line each.
    fn conditions(&self) -> Vec<String> {
        let (m, load) = (&self.machine, &self.load);
        let nginx_runs = ENDPOINTS.map(|(name, endpoint)| {
            let runs = NginxRuns::of(&self.steps, endpoint);
            let range = runs.map(|runs| (count(runs.slowest), count(runs.fastest)));
            match range {
                Some((slowest, fastest)) if slowest == fastest => format!("{name} {slowest}"),
                Some((slowest, fastest)) => format!("{name} {slowest} to {fastest}"),
                None => format!("{name} not loaded"),
            }
        });
        vec![
            format!(
                "Machine: {} cores ({}), load average {} at the start; {}.",
                m.cores, m.cpu, m.load_average, m.rustc
            ),
            format!(
                "Load: {}, {} threads, {} connections, {} s per endpoint, on the same cores as \
                 the server it loads.",
                m.wrk,
                load.threads,
                load.connections,
                load.duration.as_secs()
            ),
            format!(
                "Reference: {} with one worker, the same bodies, loaded right before each \
                 step on the same endpoint; each ratio compares those two runs, and the nginx \
                 column shows the median of its runs (requests/s: {}).",
                m.nginx,
                nginx_runs.join("; ")
            ),
            format!(
                "Start and stop: medians of {} runs of each step, idle.",
                self.runs
            ),
        ]
    }

    /// The main table: a row per figure, a column per step, then nginx.
    fn figures(&self) -> Vec<Vec<String>> {
        let mut header = vec!["figure".to_string(), "target".to_string()];
        header.extend(self.steps.iter().map(|step| step.name.clone()));
        header.push("nginx".into());
        let mut rows = vec![header];
        let mut row = |figure: &str, target: &str, cells: Vec<String>, nginx: String| {
            let mut row = vec![figure.to_string(), target.to_string()];
            row.extend(cells);
            row.push(nginx);
            rows.push(row);
        };
        let steps = &self.steps;
        let each = |cell: &dyn Fn(&StepFigures) -> String| steps.iter().map(cell).collect();

        for (name, endpoint) in ENDPOINTS {
            let nginx = NginxRuns::of(steps, endpoint).map(|runs| runs.median);
            let with_errors = |f: wrk::Figures, text: String| match f.errors {
                0 => text,
                n => format!("{text}, {n} errors"),
            };
            let target = format!("≥ {THROUGHPUT_OF_NGINX}× nginx");
            let rate = |step: &StepFigures| match endpoint(&step.loaded) {
                None => format!("n/a (no {})", name.trim_start_matches("GET ")),
                Some(Compared { step, nginx }) => {
                    let ratio = step.requests_per_s / nginx.requests_per_s;
                    let text = format!("{} ({ratio:.2}×)", count(step.requests_per_s));
                    with_errors(step, mark(text, ratio >= THROUGHPUT_OF_NGINX))
                }
            };
            let nginx_rate = nginx.map_or("-".into(), |f| with_errors(f, count(f.requests_per_s)));
            row(
                &format!("{name} requests/s"),
                &target,
                each(&rate),
                nginx_rate,
            );
            let measures: [(&str, Show); 3] = [
                ("latency p50", |f| milliseconds(f.p50)),
                ("latency p99", |f| milliseconds(f.p99)),
                ("server CPU per request", |f| {
                    format!("{:.1} µs", f.cpu_per_request.as_secs_f64() * 1e6)
                }),
            ];
            for (measure, show) in measures {
                let cell = |step: &StepFigures| {
                    endpoint(&step.loaded).map_or("n/a".into(), |c| show(c.step))
                };
                let nginx = nginx.map_or("-".into(), show);
                row(&format!("{name} {measure}"), "", each(&cell), nginx);
            }
        }

        let peak = |step: &StepFigures| {
            let mib = mebibytes(step.loaded.peak_rss_kib * 1024);
            mark(format!("{mib:.1} MiB"), mib <= PEAK_RSS_MIB)
        };
        let nginx_peak = format!(
            "{:.1} MiB (master + worker)",
            mebibytes(self.nginx_peak_rss_kib * 1024)
        );
        row(
            "peak RSS under load",
            &format!("≤ {PEAK_RSS_MIB} MiB"),
            each(&peak),
            nginx_peak,
        );
        let idle = |step: &StepFigures| {
            let mib = mebibytes(step.start_stop.idle_rss_kib * 1024);
            format!("{mib:.1} MiB")
        };
        row("RSS at idle, after start", "", each(&idle), "-".into());
        let ready = |step: &StepFigures| {
            let ready = step.start_stop.ready;
            mark(milliseconds(ready), ready <= READY)
        };
        let target = format!("≤ {} ms", READY.as_millis());
        row("exec to readiness line", &target, each(&ready), "-".into());
        let stop = |step: &StepFigures| match step.start_stop.stop {
            Some(stop) => mark(milliseconds(stop), stop <= STOP),
            None => "n/a (no handler)".into(),
        };
        let target = format!("≤ {} ms", STOP.as_millis());
        row("SIGTERM to exit, idle", &target, each(&stop), "-".into());
        let size = |step: &StepFigures| format!("{:.2} MiB", mebibytes(step.binary_bytes));
        row("release binary", "", each(&size), "-".into());
        row("image", "", each(&|step| step.image.clone()), "-".into());
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
