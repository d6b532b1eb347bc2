//! `otpl-deploy`: deploys this repository's Docker image to Singularity, as the workshop's
//! step 8 does with OpenTable's deploy scripts. Settings come from `config/ENV/` and `docker-repo`.
//!
//! Run it from the repository root:
//!   SINGULARITY_URL=https://singularity.example.com/singularity cargo run -p otpl-deploy -- pp-sf 42
//! See what it would send, without sending anything:
//!   cargo run -p otpl-deploy -- --dry-run pp-sf 42

use std::{
    env,
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::Parser;
use serde_json::{Value, json};

mod base_url;
mod config;
mod deploy;
mod shown;
mod singularity;

use shown::Shown;
use singularity::Singularity;

/// Deploy this repository's Docker image to Singularity, with the settings in config/ENV/.
///
/// Run it from the repository root. Singularity's base URL comes from SINGULARITY_URL,
/// e.g. https://singularity.example.com/singularity; SINGULARITY_TOKEN, when set, is sent as
/// a bearer token. Exit codes: 0 deployed, 1 the deploy or Singularity failed, 2 the
/// configuration or the command line is wrong.
#[derive(Parser)]
#[command(version)]
struct Cli {
    /// Print the request and the deploy it would send, and send nothing.
    #[arg(long)]
    dry_run: bool,

    /// The image repository, without registry or tag [default: the line in ./docker-repo].
    #[arg(short, long, value_name = "REPO")]
    docker_repo: Option<String>,

    /// The registry to pull the image from, e.g. docker.otenv.com [default: none, Docker Hub].
    #[arg(long, value_name = "HOST")]
    registry: Option<String>,

    /// The longest wait, in seconds, between two looks at the deploy's state: the looks
    /// come every 0.25 s for 2 s, then every second for a minute, then this often.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds)]
    poll: Duration,

    /// Seconds after which to stop waiting (the deploy itself goes on in Singularity).
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = seconds)]
    timeout: Duration,

    /// The environment, e.g. pp-sf: its settings are in config/ENV/.
    #[arg(value_name = "ENV")]
    environment: String,

    /// The image tag to deploy, e.g. 42.
    tag: String,
}

/// Why a run failed; each kind has its exit code.
#[derive(Debug)]
enum Error {
    /// The configuration or the command line is wrong: nothing was sent. Exit code 2.
    Config(String),
    /// Singularity could not be reached, refused, or the deploy did not succeed. Exit code 1.
    Deploy(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Blanks around a token are no part of it (a server would trim them, and then echo it).
    let token = env::var("SINGULARITY_TOKEN").ok();
    let token = token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    let shown = Shown::new(
        token.as_deref(),
        env::var("SINGULARITY_URL").ok().as_deref(),
    );
    match run(&cli, token, &shown) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Deploy(message)) => {
            eprintln!("{}", shown.text(&message));
            ExitCode::from(1)
        }
        Err(Error::Config(message)) => {
            eprintln!("{}", shown.text(&message));
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli, token: Option<String>, shown: &Shown) -> Result<(), Error> {
    // The deadline counts from the start: every HTTP call is bounded by it too.
    let deadline = Instant::now() + cli.timeout;

    let config = config::read(&cli.environment, cli.docker_repo.as_deref())?;
    let image = deploy::image(cli.registry.as_deref(), &config.docker_repo, &cli.tag)?;
    let deploy = deploy::build(&config.deploy, &cli.environment, &image, &cli.tag);
    let deploy_id = deploy["id"].as_str().unwrap_or_default().to_string();
    let deploy_request = json!({
        "deploy": deploy,
        "unpauseOnSuccessfulDeploy": false,
        "message": message(&cli.tag, env::var("USER").ok().as_deref()),
    });

    if cli.dry_run {
        // Placeholders are fine here: the point of a dry run is to see the result.
        for placeholder in &config.placeholders {
            eprintln!("note: {placeholder}");
        }
        if token.is_some() {
            eprintln!("note: SINGULARITY_TOKEN is set: sent as a bearer token (not shown)");
        }
        // The URL as it would be used, its credentials hidden; a placeholder when unset.
        let base = match env::var("SINGULARITY_URL") {
            Ok(url) if !url.is_empty() => {
                let base = base_url::parse(&url).map_err(Error::Config)?;
                warn_if_plain_http(&base, token.is_some());
                base.shown
            }
            _ => "$SINGULARITY_URL".into(),
        };
        println!("POST {base}/api/requests\n{}", pretty(&config.request));
        println!("POST {base}/api/deploys\n{}", pretty(&deploy_request));
        return Ok(());
    }
    if let Some(placeholder) = config.placeholders.first() {
        return Err(Error::Config(format!(
            "{placeholder}: replace it with your own value"
        )));
    }

    let base = base_url()?;
    warn_if_plain_http(&base, token.is_some());
    let singularity = Singularity::new(base, token.as_deref(), deadline, shown.clone())?;
    singularity.save_request(&config.request, &config.request_id)?;
    singularity.start_deploy(&deploy_request, &deploy_id, &image)?;
    let result = singularity.follow(&config.request_id, &deploy_id, cli.poll)?;
    deploy::outcome(&result, &config.request_id, &deploy_id, &image)
}

/// The deploy's `message`, which Singularity shows beside it: the tag, and who deployed
/// when `USER` says (Singularity itself knows the user only from authentication).
fn message(tag: &str, user: Option<&str>) -> String {
    match user.filter(|user| !user.is_empty()) {
        Some(user) => format!("otpl-deploy of tag {tag} by {user}"),
        None => format!("otpl-deploy of tag {tag}"),
    }
}

/// Singularity's base URL, from `SINGULARITY_URL`.
fn base_url() -> Result<base_url::BaseUrl, Error> {
    let url = env::var("SINGULARITY_URL").unwrap_or_default();
    if url.is_empty() {
        return Err(Error::Config(
            "SINGULARITY_URL not set: Singularity's base URL, \
             e.g. https://singularity.example.com/singularity"
                .into(),
        ));
    }
    base_url::parse(&url).map_err(Error::Config)
}

/// One line on stderr when a secret (the token, or credentials in the URL) goes over plain
/// http to another machine, where anyone on the way can read it. Plain http to this machine
/// (the practice platform) is fine.
fn warn_if_plain_http(base: &base_url::BaseUrl, token: bool) {
    let secret = match (token, base.has_credentials) {
        (true, _) => "SINGULARITY_TOKEN",
        (false, true) => "the credentials in SINGULARITY_URL",
        (false, false) => return,
    };
    if let Some(host) = &base.plain_http_host {
        eprintln!(
            "warning: {secret} is sent to {host} over plain http, readable on the way: \
             use an https:// SINGULARITY_URL"
        );
    }
}

/// A duration in seconds on the command line: positive, fractions allowed (e.g. `0.5`).
/// The same as the platform's `seconds`: two binaries that share no library, and five lines are
/// less to keep than a crate of their own.
fn seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>().map(Duration::try_from_secs_f64) {
        Ok(Ok(duration)) if !duration.is_zero() => Ok(duration),
        _ => Err(format!("not a positive number of seconds: {text:?}")),
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
