//! A CPU quota for a process under test, as Mesos and `docker --cpus` set one: a cgroup
//! whose CPU controller lets its processes run for a share of every 100 ms period.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{self, Command},
    sync::atomic::{AtomicUsize, Ordering},
    thread,
    time::Duration,
};

/// The CFS period, in microseconds: Mesos's, and Docker's.
const PERIOD_US: u32 = 100_000;

/// A cgroup with a CPU quota. Removed when dropped (once the processes in it have exited).
pub struct CpuQuota {
    dir: PathBuf,
}

impl CpuQuota {
    /// A new cgroup whose processes may use `share` of one CPU (0.1: 10 ms per 100 ms).
    /// `Err` says why there cannot be one here: it takes root, and a CPU controller
    /// mounted at /sys/fs/cgroup (cgroup v2) or /sys/fs/cgroup/cpu (v1).
    pub fn new(share: f64) -> Result<CpuQuota, String> {
        static CREATED: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "hello-mesos-test-{}-{}",
            process::id(),
            CREATED.fetch_add(1, Ordering::Relaxed)
        );
        let quota = (share * f64::from(PERIOD_US)) as u32;
        let v2 = Path::new("/sys/fs/cgroup");
        let controllers = fs::read_to_string(v2.join("cgroup.controllers")).unwrap_or_default();
        if controllers.split_whitespace().any(|c| c == "cpu") {
            // The children of the root get a CPU controller only once it is enabled for them.
            write(&v2.join("cgroup.subtree_control"), "+cpu")?;
            let quota_file = ("cpu.max", format!("{quota} {PERIOD_US}"));
            return CpuQuota::create(v2.join(name), &[quota_file]);
        }
        let v1 = Path::new("/sys/fs/cgroup/cpu");
        if v1.join("cpu.cfs_quota_us").exists() {
            let files = [
                ("cpu.cfs_period_us", PERIOD_US.to_string()),
                ("cpu.cfs_quota_us", quota.to_string()),
            ];
            return CpuQuota::create(v1.join(name), &files);
        }
        Err("no cgroup CPU controller at /sys/fs/cgroup (v2) or /sys/fs/cgroup/cpu (v1)".into())
    }

    fn create(dir: PathBuf, files: &[(&str, String)]) -> Result<CpuQuota, String> {
        fs::create_dir(&dir).map_err(|err| format!("cannot create {}: {err}", dir.display()))?;
        let quota = CpuQuota { dir };
        for (file, value) in files {
            write(&quota.dir.join(file), value)?;
        }
        Ok(quota)
    }

    /// A command that runs `bin` in the cgroup: a shell joins it, then becomes `bin`
    /// (so that `bin` has the shell's process id, and every thread it starts is counted).
    pub fn command(&self, bin: &str) -> Command {
        let mut command = Command::new("/bin/sh");
        command
            .args(["-c", r#"echo $$ > "$0/cgroup.procs" && exec "$1""#])
            .arg(&self.dir)
            .arg(bin);
        command
    }
}

/// How often the quota held a cgroup back, from its `cpu.stat`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Throttling {
    /// Periods in which the cgroup's processes wanted to run.
    pub periods: u64,
    /// Of those, the periods in which they used up the quota and were made to wait for
    /// the next: what a request arriving then waits for.
    pub throttled: u64,
}

impl Throttling {
    /// What happened between `earlier` and this.
    pub fn since(self, earlier: Throttling) -> Throttling {
        Throttling {
            periods: self.periods.saturating_sub(earlier.periods),
            throttled: self.throttled.saturating_sub(earlier.throttled),
        }
    }
}

impl CpuQuota {
    /// How often the quota has held the cgroup back so far (zeros if it cannot be read).
    pub fn throttling(&self) -> Throttling {
        let stat = fs::read_to_string(self.dir.join("cpu.stat")).unwrap_or_default();
        let field = |name: &str| {
            stat.lines()
                .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
                .unwrap_or(0)
        };
        Throttling {
            periods: field("nr_periods "),
            throttled: field("nr_throttled "),
        }
    }
}

impl Drop for CpuQuota {
    fn drop(&mut self) {
        // A cgroup can be removed once empty, which takes a moment after its last exit.
        for _ in 0..100 {
            if fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn write(file: &Path, value: &str) -> Result<(), String> {
    fs::write(file, value)
        .map_err(|err| format!("cannot write {value:?} to {}: {err}", file.display()))
}
