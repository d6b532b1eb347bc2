//! The practice platform's binary, started from its tests: with `--port 0` and
//! `--discovery-port 0` the system chooses free ports, and the platform prints the ones it
//! bound; they are read from those lines, so no port is picked here and lost to a race.

use std::{process::Command, time::Duration};

use crate::app::App;

/// The platform, started and ready: its last start-up line has been printed.
pub struct Started {
    pub app: App,
    /// The port of Singularity's API and of the page.
    pub port: u16,
    /// The port of the discovery server.
    pub discovery: u16,
}

/// Spawns the platform as `command` (its binary and arguments) with `env`, and waits at most
/// `within` for its start-up lines, reading the ports from them.
pub fn start(command: Command, env: &[(&str, &str)], within: Duration) -> Started {
    let mut app = App::spawn(command, env);
    let port = port_in(&app.wait_for_line("Singularity API: ", within));
    let discovery = port_in(&app.wait_for_line("Discovery: ", within));
    app.wait_for_line("Stop with Ctrl+C", within);
    Started {
        app,
        port,
        discovery,
    }
}

/// The port of the `http://localhost:PORT/…` in one of the platform's start-up lines.
fn port_in(line: &str) -> u16 {
    let port = line
        .split_once("http://localhost:")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|port| port.parse().ok());
    port.unwrap_or_else(|| panic!("no port in the platform's line {line:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_is_read_from_the_line() {
        let line = "Singularity API: http://localhost:41234/singularity";
        assert_eq!(port_in(line), 41234);
        assert_eq!(
            port_in("Discovery:       http://localhost:8090/watch"),
            8090
        );
    }
}
