//! The CPU budget, the same for every server: on a machine with two cores or more, each server
//! (a step, nginx's worker, Node.js, the step's image) runs on core 0 and the load generator on
//! core 1, through `taskset`. A server then has one core, as nginx's single worker does, and
//! wrk has one of its own, so that neither takes the other's. (tokio sizes itself by the cores
//! a process may use: a step's runtime sees one.) On one core, nothing is pinned and the
//! report says so.

use std::{path::PathBuf, process::Command, thread};

use crate::tools;

/// The core of the servers, and the core of the load generator.
const SERVER_CORE: &str = "0";
const LOAD_CORE: &str = "1";

pub struct Cores {
    /// `taskset`, when there are two cores to share out.
    taskset: Option<PathBuf>,
}

impl Cores {
    pub fn detect() -> Result<Cores, String> {
        let cores = thread::available_parallelism().map_or(1, |n| n.get());
        let taskset = match cores >= 2 {
            true => Some(tools::require("taskset", "util-linux")?),
            false => None,
        };
        Ok(Cores { taskset })
    }

    /// A command that runs `program` on the servers' core.
    pub fn server(&self, program: impl Into<PathBuf>) -> Command {
        self.on(SERVER_CORE, program.into())
    }

    /// A command that runs `program` on the load generator's core.
    pub fn load(&self, program: impl Into<PathBuf>) -> Command {
        self.on(LOAD_CORE, program.into())
    }

    fn on(&self, core: &str, program: PathBuf) -> Command {
        match &self.taskset {
            Some(taskset) => {
                let mut command = Command::new(taskset);
                command.args(["--cpu-list", core]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// The servers' core, for `docker run --cpuset-cpus` (`None` when nothing is pinned).
    pub fn server_core(&self) -> Option<&'static str> {
        self.taskset.as_ref().map(|_| SERVER_CORE)
    }

    /// How the cores were shared, for the report.
    pub fn describe(&self) -> String {
        match self.taskset {
            Some(_) => format!(
                "each server on core {SERVER_CORE} alone (taskset), wrk on core {LOAD_CORE}"
            ),
            None => "one core, shared by each server and wrk".into(),
        }
    }
}
