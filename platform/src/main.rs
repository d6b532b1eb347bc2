//! The practice platform: a local Singularity and discovery server that run the workshop's
//! images in Docker, as OpenTable's Mesos platform ran them.
//!
//! Run it (Docker must be running):  cargo run -p platform
//! Then open http://localhost:7099/ and deploy with `otpl-deploy -d hello-mesos local TAG`.
//!
//! Exit codes: 0 stopped by Ctrl+C or SIGTERM (every container it started is stopped and
//! removed), 1 no Docker engine or a port already taken, 2 a wrong flag.

use std::{net::SocketAddr, process::ExitCode, time::Duration};

use clap::Parser;
use tokio::net::TcpListener;

use platform::{
    discovery::Discovery,
    page,
    runtime::docker::{DEFAULT_REGISTRY, Docker},
    singularity::{Settings, Singularity},
};

/// A practice platform for the workshop: Singularity's API, a discovery server and a page,
/// running the steps' images in Docker on this machine.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Port of Singularity's API (under /singularity) and of the page (at /); 0 for any free
    /// port, printed once bound.
    #[arg(long, default_value_t = 7099)]
    port: u16,

    /// Port of the discovery server (DISCOVERY_HOST=localhost:PORT); 0 for any free port,
    /// printed once bound.
    #[arg(long, default_value_t = 8090)]
    discovery_port: u16,

    /// Seconds a task has to pass its first health check before the deploy fails
    /// (Singularity's startupTimeoutSeconds).
    #[arg(long, value_name = "SECONDS", default_value = "45", value_parser = seconds)]
    startup_timeout: Duration,

    /// Seconds after which a deploy still waiting is OVERDUE
    /// (Singularity's deployHealthTimeoutSeconds).
    #[arg(long, value_name = "SECONDS", default_value = "120", value_parser = seconds)]
    deploy_timeout: Duration,

    /// Seconds between two health checks of a task, and between two looks at each deploy.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds)]
    check_interval: Duration,

    /// The host name tasks get as TASK_HOST, and that health checks and discovery use.
    /// 127.0.0.1 rather than localhost: Docker Desktop's host networking forwards IPv4 only.
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    task_host: String,

    /// Seconds an announcement lives without a heartbeat (step 09 renews every 10 s).
    #[arg(long, value_name = "SECONDS", default_value = "25", value_parser = seconds)]
    announcement_ttl: Duration,

    /// A registry on this machine that tasks' images may be pulled from, as HOST:PORT
    /// (localhost, 127.x.x.x or [::1]); repeat it for more. Any other is never contacted.
    #[arg(long = "registry", value_name = "HOST:PORT", default_value = DEFAULT_REGISTRY, value_parser = local_registry)]
    registries: Vec<String>,
}

/// How long a task may take to stop before it is killed, as Mesos gives it: `docker stop -t 5`.
const GRACE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // Docker's words may quote a deploy's command: shown, never obeyed.
            eprintln!("platform: {}", printable::visible(&message));
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    // Listen on this machine only: the platform runs whatever image it is asked to.
    let api_address = SocketAddr::from(([127, 0, 0, 1], cli.port));
    let discovery_address = SocketAddr::from(([127, 0, 0, 1], cli.discovery_port));

    // Ctrl+C and SIGTERM from the start: a stop during start-up still cleans up.
    let stop = stop_signal()?;

    // The API's port first: with `--port 0` the system chooses it, and the containers'
    // label names the port bound.
    let api = bind(api_address, "--port").await?;
    let port = bound_port(&api)?;
    let docker = Docker::new(&port.to_string()).pulling_from(cli.registries.clone());
    let (engine, desktop) = docker.check().await.map_err(|error| {
        format!(
            "{error}. Start Docker (Docker Desktop, or `systemctl start docker`) and try again."
        )
    })?;
    // Both ports held before anything is touched: a second platform started on the same
    // port stops here and leaves the first one's containers alone.
    let discovery_listener = bind(discovery_address, "--discovery-port").await?;
    let discovery_port = bound_port(&discovery_listener)?;
    // What a platform that died on this port left behind.
    let left = docker
        .remove_all()
        .await
        .map_err(|error| error.to_string())?;
    if left > 0 {
        println!("Removed {left} container(s) left by an earlier run on port {port}.");
    }

    let discovery = Discovery::new(
        format!("http://{}:{discovery_port}", cli.task_host),
        cli.announcement_ttl,
    );
    let settings = platform::singularity::Settings {
        check_interval: cli.check_interval,
        startup_timeout: cli.startup_timeout,
        deploy_timeout: cli.deploy_timeout,
        task_host: cli.task_host.clone(),
        stop_grace: GRACE,
        ..Settings::default()
    };
    let singularity = Singularity::new(docker.clone(), settings);
    let app = page::router(singularity.clone(), discovery.clone());

    // The engine's words, possibly from another machine (DOCKER_HOST): shown, never obeyed.
    println!(
        "Docker engine {}: tasks run with --net=host as TASK_HOST={}",
        printable::visible(&engine),
        cli.task_host
    );
    if desktop {
        // Docker Desktop runs containers in a VM: --net=host reaches this machine only with
        // host networking turned on (Docker Desktop 4.34 and later).
        println!(
            "Docker Desktop: turn on Settings > Resources > Network > Enable host networking, \
             or no task can be reached (see docs/platform.md)."
        );
    }
    // The ports bound, which tests started with `--port 0` read from these lines.
    println!("Singularity API: http://localhost:{port}/singularity");
    println!("Page:            http://localhost:{port}/");
    println!("Discovery:       http://localhost:{discovery_port}/watch");
    println!("Stop with Ctrl+C: every container started here is stopped and removed.");

    let (done, _) = tokio::sync::watch::channel(());
    // Every listener through one function: the guard (Host, Origin) and the connection bounds.
    let serve = |listener: TcpListener, router: axum::Router| {
        let mut done = done.subscribe();
        tokio::spawn(platform::serve::serve(listener, router, async move {
            let _ = done.changed().await;
        }))
    };
    let api_server = serve(api, app);
    let discovery_server = serve(discovery_listener, discovery.router());
    tokio::spawn(discovery.clone().expire());

    let signal = stop.await;
    println!(
        "{signal}: stopping every task (docker stop -t {}).",
        GRACE.as_secs()
    );
    let _ = done.send(());
    // The model stops its tasks as Mesos would; anything else of ours (a task being
    // started right now) is stopped by its label.
    singularity.shutdown().await;
    if let Err(error) = docker.stop_all(GRACE).await {
        eprintln!("platform: {}", printable::visible(&error.to_string()));
    }
    let removed = docker
        .remove_all()
        .await
        .map_err(|error| error.to_string())?;
    // The servers have stopped taking connections; give open ones a moment, no more.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        let _ = api_server.await;
        let _ = discovery_server.await;
    })
    .await;
    println!("Stopped and removed {removed} container(s). Bye.");
    Ok(())
}

/// Binds `address`, or says which flag chooses another port.
async fn bind(address: SocketAddr, flag: &str) -> Result<TcpListener, String> {
    TcpListener::bind(address).await.map_err(|error| {
        format!("cannot listen on {address}: {error} (choose another with {flag})")
    })
}

/// The port `listener` is bound to: the one asked for, or the system's choice for 0.
fn bound_port(listener: &TcpListener) -> Result<u16, String> {
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    Ok(address.port())
}

/// Resolves to the name of the first of Ctrl+C (SIGINT) and SIGTERM received.
fn stop_signal() -> Result<impl Future<Output = &'static str>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|error| format!("SIGINT handler: {error}"))?;
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|error| format!("SIGTERM handler: {error}"))?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        }
    })
}

/// A duration in seconds on the command line: positive, fractions allowed (e.g. `0.5`).
/// The same as otpl-deploy's `seconds`: two binaries that share no library, and five lines are
/// less to keep than a crate of their own.
fn seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>().map(Duration::try_from_secs_f64) {
        Ok(Ok(duration)) if !duration.is_zero() => Ok(duration),
        _ => Err(format!("not a positive number of seconds: {text:?}")),
    }
}

/// `--registry`: `host:port` on this machine, which Docker pulls from over plain HTTP.
fn local_registry(text: &str) -> Result<String, String> {
    let reference = format!("{text}/x");
    let is_registry = platform::runtime::reference::Reference::parse(&reference)
        .is_ok_and(|parsed| parsed.registry == Some(text));
    if is_registry && platform::runtime::reference::is_loopback(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "not a registry on this machine (localhost:PORT, 127.0.0.1:PORT or [::1]:PORT): {text:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_registry_on_this_machine_is_taken() {
        for here in [
            "localhost:5001",
            "127.0.0.1:5001",
            "[::1]:5001",
            "localhost",
        ] {
            assert_eq!(local_registry(here).as_deref(), Ok(here));
        }
        for there in [
            "registry.example.com:5000",
            "10.0.0.1:5000",
            "localhost:5001/x",
            "-v",
        ] {
            assert!(local_registry(there).is_err(), "{there}");
        }
    }
}
