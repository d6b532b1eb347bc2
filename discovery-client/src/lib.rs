//! Announces a service to OpenTable's discovery, so that other services find it by its type
//! rather than by a host and port that change with every deploy.
//!
//! The protocol is plain HTTP and JSON:
//! 1. `GET http://$DISCOVERY_HOST/watch` lists every announcement; those of type
//!    `discovery` are the discovery servers.
//! 2. `POST {server}/announcement` sends ours; `201 Created` means we are listed.
//! 3. The same POST, with the same id, every heartbeat: a server forgets an announcement
//!    that is not renewed within about 10 s, so a task that dies drops out on its own.
//! 4. `DELETE {server}/announcement/{id}` takes us off the list at once, before we stop.
//!
//! The API is three calls: [`Settings::from_env`] before the service starts,
//! [`start_announcing`] once it listens, [`Announcer::leave`] when it is asked to stop,
//! before it drains:
//!
//! ```no_run
//! use discovery_client::{Settings, start_announcing};
//! use tokio::{net::TcpListener, signal};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() {
//!     // In development mode (`OT_ENV` unset), `settings` is `None`: nothing is announced.
//!     let settings = Settings::from_env().unwrap_or_else(|message| {
//!         eprintln!("{message}");
//!         std::process::exit(3)
//!     });
//!     let listener = TcpListener::bind("127.0.0.1:3000").await.expect("a free port");
//!     // Announced only once it can be reached; renewed every heartbeat from then on.
//!     let announcer = start_announcing(settings, "http://127.0.0.1:3000".to_string());
//!     // … serve with `listener` until a stop signal …
//!     signal::ctrl_c().await.expect("a SIGINT handler");
//!     // Off the list first, so that no new traffic comes; then drain.
//!     announcer.leave().await;
//! }
//! ```
//!
//! What it says, one line each: `Not announcing, as running in development mode.` and
//! `ANNOUNCED {type}@{url} to {DISCOVERY_HOST}` (once, at the first `201`) on stdout;
//! `Discovery error: …` on stderr for each failure, after which the next heartbeat tries
//! again. Discovery failing never stops the service.
//!
//! Discovery is a server we do not control, and it must never hurt the service: what we
//! read from it is bounded in time and in size, we follow none of its redirects and go
//! through no proxy, and the heartbeat runs on a thread of its own, with a tokio runtime of
//! its own, so that a server keeping it busy cannot slow down the requests the service
//! answers, nor its stop. docs/09a-discovery-client.md tells why each bound is there.

mod heartbeat;
mod http;
mod settings;

use std::{thread, time::Duration};

use tokio::{runtime, sync::oneshot, time};

pub use settings::{Error, Settings};

use heartbeat::Heartbeat;

/// How long [`Announcer::leave`] waits for the heartbeat to end: a little longer than the
/// unannouncing may take (1 s), so that its error, if any, is said; never longer, however
/// busy the heartbeat is kept.
const LEAVE_LIMIT: Duration = Duration::from_millis(1200);

/// The heartbeat running in the background, if we announce. [`Announcer::leave`] stops it;
/// dropping the `Announcer` stops it too, without waiting for the unannouncing.
#[derive(Debug)]
pub struct Announcer {
    /// `None` in development mode: there is nothing to stop.
    heartbeat: Option<Running>,
}

#[derive(Debug)]
struct Running {
    /// Sending on it tells the heartbeat to unannounce and end.
    stop: oneshot::Sender<()>,
    /// Closed once the heartbeat has ended.
    ended: oneshot::Receiver<()>,
}

/// Starts announcing `service_uri` (such as `http://10.0.1.7:31002`) in the background,
/// unless `settings` is `None` (development mode), and returns at once.
pub fn start_announcing(settings: Option<Settings>, service_uri: String) -> Announcer {
    let Some(settings) = settings else {
        println!("Not announcing, as running in development mode.");
        return Announcer { heartbeat: None };
    };
    let heartbeat = Heartbeat::new(settings, service_uri);
    let (stop, stopped) = oneshot::channel();
    let (end, ended) = oneshot::channel::<()>();
    // A thread of its own, with a runtime of its own: whatever keeps the heartbeat busy
    // (a slow DNS lookup, a server we have yet to give up on) keeps this thread busy, not
    // those that serve requests and stop us. Named, so that its CPU time shows on its own
    // (`top -H`).
    let thread = thread::Builder::new().name("discovery".into());
    let spawned = thread.spawn(move || {
        // Dropped when the thread ends, which closes `ended`.
        let _end = end;
        match runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(heartbeat.run(stopped)),
            Err(err) => eprintln!("Discovery error: {err}"),
        }
    });
    if let Err(err) = spawned {
        eprintln!("Discovery error: {err}");
        return Announcer { heartbeat: None };
    }
    Announcer {
        heartbeat: Some(Running { stop, ended }),
    }
}

impl Announcer {
    /// Stops the heartbeat, which then unannounces, and waits for it to end, at most 1.2 s:
    /// a stop never waits for discovery longer than that. Call it from within a tokio
    /// runtime, before the service drains.
    pub async fn leave(self) {
        if let Some(Running { stop, ended }) = self.heartbeat {
            let _ = stop.send(());
            let _ = time::timeout(LEAVE_LIMIT, ended).await;
        }
    }
}
