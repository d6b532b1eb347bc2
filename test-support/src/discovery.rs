//! A stand-in for OpenTable's discovery: a seed host whose `GET /watch` lists a discovery
//! server, and that server, which takes the announcements. They are two stand-ins, so
//! that an app announcing to the seed host instead of the server it lists is caught.

use std::sync::{Arc, Mutex, OnceLock};

use axum::{
    Router,
    extract::State,
    http::{Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use tokio::sync::watch;

use crate::stand_in::{Recorded, Reserved, StandIn};

/// How the discovery server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// As a healthy server: 201 with the announcement echoed, 204 to an unannouncement.
    Accept,
    /// This status to every request.
    Status(u16),
    /// Nothing, for as long as the stand-in runs: the request stays in progress.
    Hang,
}

/// The discovery server's state, shared with its handlers.
#[derive(Clone)]
struct Server {
    answer: Arc<Mutex<Answer>>,
    /// Turns `true` when the stand-in stops, to release the requests left hanging.
    stopping: watch::Receiver<bool>,
}

/// A seed host and the discovery server it lists. Both stop when this is dropped.
pub struct Discovery {
    /// The seed host: what the app's `DISCOVERY_HOST` names. It should only be asked
    /// `GET /watch`.
    pub seed: StandIn,
    /// The discovery server the seed lists, which announcements are for.
    pub server: StandIn,
    answer: Arc<Mutex<Answer>>,
    stopping: watch::Sender<bool>,
}

impl Discovery {
    /// Starts a seed host on a free port, and a discovery server answering `answer`.
    pub fn start(answer: Answer) -> Discovery {
        Discovery::start_on(Reserved::new(), answer)
    }

    /// Starts the seed host on the `seed` port: discovery coming up on an address already
    /// handed to the app.
    pub fn start_on(seed: Reserved, answer: Answer) -> Discovery {
        let answer = Arc::new(Mutex::new(answer));
        let (stopping, stopping_seen) = watch::channel(false);
        let state = Server {
            answer: Arc::clone(&answer),
            stopping: stopping_seen,
        };
        let server = StandIn::start(
            Router::new()
                .route("/announcement", post(respond))
                .route("/announcement/{id}", delete(respond))
                .with_state(state),
        );
        // The listing names the seed's own URL, known once it is up (its port may be 0).
        let listing = Arc::new(OnceLock::new());
        let seed = StandIn::start_reserved(
            seed,
            Router::new()
                .route("/watch", get(list))
                .with_state(Arc::clone(&listing)),
        );
        let _ = listing.set(watch_listing(&[server.url()], &seed.url()));
        Discovery {
            seed,
            server,
            answer,
            stopping,
        }
    }

    /// `host:port` of the seed host, for `DISCOVERY_HOST`.
    pub fn host(&self) -> String {
        self.seed.host()
    }

    /// Changes how the discovery server answers from now on.
    pub fn answer(&self, answer: Answer) {
        *self.answer.lock().expect("answer lock") = answer;
    }

    /// Every request either stand-in has received, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        let mut all = self.seed.requests();
        all.extend(self.server.requests());
        all.sort_by_key(|request| request.at);
        all
    }
}

/// A seed host alone, whose `GET /watch` lists `servers` as the discovery servers (and
/// itself as another service): discovery servers that are not [`Discovery`]'s.
pub fn seed_listing(servers: &[String]) -> StandIn {
    let listing = Arc::new(OnceLock::new());
    let seed = StandIn::start(
        Router::new()
            .route("/watch", get(list))
            .with_state(Arc::clone(&listing)),
    );
    let _ = listing.set(watch_listing(servers, &seed.url()));
    seed
}

impl Drop for Discovery {
    fn drop(&mut self) {
        // Release hanging requests first: each stand-in waits for its requests to finish.
        let _ = self.stopping.send(true);
    }
}

/// The seed host's answer to `GET /watch`: a full update listing the discovery servers,
/// after another service (at the seed host itself) that is not a discovery server: an app
/// that announces to anything but a discovery server is seen by the seed host.
pub fn watch_listing(servers: &[String], elsewhere: &str) -> String {
    let entry = |service_type: &str, uri: &str| {
        serde_json::json!({
            "announcementId": uuid::Uuid::new_v4().to_string(),
            "serviceType": service_type,
            "serviceUri": uri,
            "environment": "pp-sf",
        })
    };
    let mut updates = vec![entry("not-discovery", elsewhere)];
    updates.extend(servers.iter().map(|server| entry("discovery", server)));
    let listing = serde_json::json!({
        "fullUpdate": true,
        "index": 100,
        "deletes": [],
        "updates": updates,
    });
    listing.to_string()
}

/// Answers `GET /watch` on the seed host (503 in the instant before the listing is set).
async fn list(State(listing): State<Arc<OnceLock<String>>>) -> Response {
    match listing.get() {
        Some(json) => ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Answers an announcement (`POST`) or an unannouncement (`DELETE`) as set.
async fn respond(State(mut server): State<Server>, method: Method, body: String) -> Response {
    let answer = *server.answer.lock().expect("answer lock");
    match answer {
        Answer::Accept if method == Method::POST => (StatusCode::CREATED, body).into_response(),
        Answer::Accept => StatusCode::NO_CONTENT.into_response(),
        Answer::Status(code) => StatusCode::from_u16(code)
            .expect("an HTTP status code")
            .into_response(),
        Answer::Hang => {
            let _ = server.stopping.wait_for(|stopping| *stopping).await;
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
