//! OpenTable's discovery server, as step 09 talks to it (see the workshop's discovery protocol):
//!
//! - `GET /watch`: a full update listing this server (`serviceType: "discovery"`) and every
//!   announcement. `?since=N` with N past the current index waits (up to 30 s) for a change,
//!   then answers the full list, or 204 if nothing changed.
//! - `POST /announcement`: 201 with the announcement echoed back plus its lease
//!   (`staticAnnouncement`, `announceTime`). Posting the same `announcementId` again renews it.
//!   415 unless the body is sent as `Content-Type: application/json`.
//! - `DELETE /announcement/{id}`: 200 and the record is gone; 404 for an id not listed.
//!
//! An announcement that is not renewed within [`DEFAULT_TTL`] expires.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, Path, State},
    http::{HeaderMap, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::{guard, now_millis};

/// How long an announcement lives without a heartbeat. Step 09 (like OpenTable's clients)
/// renews every 10 s: 25 s is two heartbeats and 5 s of slack for a slow one, so one lost
/// heartbeat never takes a healthy service off the list, and a service that died without
/// unannouncing is gone within half a minute.
pub const DEFAULT_TTL: Duration = Duration::from_secs(25);

/// The largest announcement accepted: real ones are a few hundred bytes.
const MAX_BODY: usize = 16 * 1024;
/// How long `GET /watch?since=N` waits for a change.
const LONG_POLL: Duration = Duration::from_secs(30);
/// How many announcements are listed at once: step 09 runs a few; 100 of at most 16 KiB
/// each bound what a runaway client (or a page the learner visits) can make the server hold.
/// The heartbeat of a listed one always passes.
const MAX_LISTED: usize = 100;
/// How many announce/unannounce/expiry events the page shows.
const EVENTS: usize = 50;

/// The discovery server's state, shared by its handlers, the page and the expiry sweep.
#[derive(Clone)]
pub struct Discovery {
    inner: Arc<Inner>,
}

struct Inner {
    /// This server's own listing: `http://HOST:PORT`.
    self_uri: String,
    ttl: Duration,
    state: Mutex<Announcements>,
    /// The index after each change, for long-polling watchers.
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct Announcements {
    /// Bumped on every change, as the real server's `index`.
    index: u64,
    /// By `announcementId`.
    listed: BTreeMap<String, Listed>,
    /// What happened lately, newest last.
    events: VecDeque<Event>,
}

struct Listed {
    /// The announcement as posted, with its lease added.
    announcement: Value,
    renewed: Instant,
}

/// One thing that happened to an announcement, for the page (and the tests that check that a
/// task left the list before it stopped).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// `ANNOUNCED`, `UNANNOUNCED` or `EXPIRED` (a renewal is not an event).
    pub event: &'static str,
    pub announcement_id: String,
    pub service_type: String,
    pub service_uri: String,
}

/// What the page shows of discovery.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryView {
    pub uri: String,
    pub ttl_seconds: u64,
    pub announcements: Vec<AnnouncementView>,
    pub events: Vec<Event>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnnouncementView {
    pub announcement_id: String,
    pub service_type: String,
    pub service_uri: String,
    pub environment: String,
    pub announce_time: String,
    /// Seconds left before it expires without a heartbeat.
    pub expires_in: u64,
}

impl Discovery {
    /// A discovery server reachable at `self_uri` (what `/watch` lists for `serviceType:
    /// "discovery"`), whose announcements expire after `ttl` without a heartbeat.
    pub fn new(self_uri: String, ttl: Duration) -> Discovery {
        Discovery {
            inner: Arc::new(Inner {
                self_uri,
                ttl,
                state: Mutex::new(Announcements::default()),
                changed: watch::channel(0).0,
            }),
        }
    }

    /// The HTTP API. Run [`Discovery::expire`] beside it.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/watch", get(watch_all))
            .route("/announcement", post(announce))
            .route("/announcement/{id}", delete(unannounce))
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .with_state(self.clone())
    }

    /// Removes the announcements not renewed in time, every second, forever.
    pub async fn expire(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            self.sweep();
        }
    }

    /// What the page shows.
    pub fn view(&self) -> DiscoveryView {
        self.sweep();
        let state = self.lock();
        let announcements = state
            .listed
            .values()
            .map(|listed| {
                let field = |name: &str| {
                    listed.announcement[name]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                };
                AnnouncementView {
                    announcement_id: field("announcementId"),
                    service_type: field("serviceType"),
                    service_uri: field("serviceUri"),
                    environment: field("environment"),
                    announce_time: field("announceTime"),
                    expires_in: self
                        .inner
                        .ttl
                        .saturating_sub(listed.renewed.elapsed())
                        .as_secs(),
                }
            })
            .collect();
        DiscoveryView {
            uri: self.inner.self_uri.clone(),
            ttl_seconds: self.inner.ttl.as_secs(),
            announcements,
            events: state.events.iter().cloned().collect(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Announcements> {
        crate::lock(&self.inner.state)
    }

    fn sweep(&self) {
        let mut state = self.lock();
        let ttl = self.inner.ttl;
        let expired: Vec<String> = state
            .listed
            .iter()
            .filter(|(_, listed)| listed.renewed.elapsed() > ttl)
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            if let Some(listed) = state.listed.remove(&id) {
                self.record(&mut state, "EXPIRED", &listed.announcement);
            }
        }
    }

    /// Notes a change: bumps the index, keeps the event, wakes the watchers.
    fn record(&self, state: &mut Announcements, event: &'static str, announcement: &Value) {
        state.index += 1;
        let field = |name: &str| announcement[name].as_str().unwrap_or_default().to_string();
        state.events.push_back(Event {
            timestamp: now_millis(),
            event,
            announcement_id: field("announcementId"),
            service_type: field("serviceType"),
            service_uri: field("serviceUri"),
        });
        if state.events.len() > EVENTS {
            state.events.pop_front();
        }
        self.inner.changed.send_replace(state.index);
    }

    /// The full update `/watch` answers: this server first, then every announcement.
    fn full_update(&self) -> Value {
        let state = self.lock();
        let mut updates = vec![json!({
            "announcementId": "discovery",
            "serviceType": "discovery",
            "serviceUri": self.inner.self_uri,
            "environment": "local",
            "staticAnnouncement": true,
            "announceTime": rfc3339(SystemTime::now()),
        })];
        updates.extend(
            state
                .listed
                .values()
                .map(|listed| listed.announcement.clone()),
        );
        json!({ "fullUpdate": true, "index": state.index, "deletes": [], "updates": updates })
    }
}

async fn watch_all(State(discovery): State<Discovery>, uri: Uri) -> Response {
    discovery.sweep();
    let since = uri.query().and_then(|query| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("since="))
            .and_then(|n| n.parse::<u64>().ok())
    });
    if let Some(since) = since {
        // Only the changes would be sent by the real server; the whole list is a valid
        // answer too (`fullUpdate: true`), and is all this small server keeps.
        let mut changed = discovery.inner.changed.subscribe();
        let waited =
            tokio::time::timeout(LONG_POLL, changed.wait_for(|index| *index >= since)).await;
        if !matches!(waited, Ok(Ok(_))) {
            return StatusCode::NO_CONTENT.into_response();
        }
    }
    json_response(StatusCode::OK, &discovery.full_update())
}

async fn announce(State(discovery): State<Discovery>, headers: HeaderMap, body: Bytes) -> Response {
    // As any JSON API: a page on another site can POST `text/plain` without asking first.
    if !guard::is_json(&headers) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "an announcement must be sent as Content-Type: application/json\n",
        )
            .into_response();
    }
    let mut announcement = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(fields)) => fields,
        Ok(_) => return bad_request("the announcement must be a JSON object".into()),
        Err(error) => return bad_request(format!("the announcement is not valid JSON: {error}")),
    };
    if let Err(message) = validate(&announcement) {
        return bad_request(message);
    }
    announcement.insert("staticAnnouncement".into(), Value::Bool(false));
    announcement.insert("announceTime".into(), rfc3339(SystemTime::now()).into());
    let announcement = Value::Object(announcement);
    let id = announcement["announcementId"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // Leases that ended make room before the count.
    discovery.sweep();
    let mut state = discovery.lock();
    if let Err(message) = room_for(&state.listed, &id) {
        drop(state);
        return (StatusCode::SERVICE_UNAVAILABLE, message + "\n").into_response();
    }
    let listed = Listed {
        announcement: announcement.clone(),
        renewed: Instant::now(),
    };
    // A heartbeat renews the lease; only a new announcement is news to the watchers.
    match state.listed.insert(id, listed) {
        Some(previous) if previous.announcement["serviceUri"] == announcement["serviceUri"] => {}
        _ => discovery.record(&mut state, "ANNOUNCED", &announcement),
    }
    drop(state);
    json_response(StatusCode::CREATED, &announcement)
}

async fn unannounce(State(discovery): State<Discovery>, Path(id): Path<String>) -> Response {
    let mut state = discovery.lock();
    match state.listed.remove(&id) {
        Some(listed) => {
            discovery.record(&mut state, "UNANNOUNCED", &listed.announcement);
            StatusCode::OK.into_response()
        }
        None => (StatusCode::NOT_FOUND, format!("no announcement {id}\n")).into_response(),
    }
}

/// Whether `id` may be listed: a heartbeat of a listed one always may, a new one only while
/// fewer than [`MAX_LISTED`] are.
fn room_for(listed: &BTreeMap<String, Listed>, id: &str) -> Result<(), String> {
    if listed.len() < MAX_LISTED || listed.contains_key(id) {
        return Ok(());
    }
    Err(format!(
        "this discovery server lists at most {MAX_LISTED} announcements: {id} is not listed \
         (unannounce one, or wait for a lease to end)"
    ))
}

/// The fields a client must set, and their shapes.
fn validate(announcement: &Map<String, Value>) -> Result<(), String> {
    for field in ["announcementId", "serviceType", "serviceUri"] {
        match announcement.get(field) {
            Some(Value::String(text)) if !text.trim().is_empty() && text.len() <= 500 => {}
            Some(Value::String(_)) => {
                return Err(format!(
                    "\"{field}\" must be a non-empty string of at most 500 bytes"
                ));
            }
            Some(other) => return Err(format!("\"{field}\" must be a string, not {other}")),
            None => return Err(format!("\"{field}\" is missing")),
        }
    }
    for field in ["environment", "feature"] {
        if !matches!(
            announcement.get(field),
            None | Some(Value::Null | Value::String(_))
        ) {
            return Err(format!("\"{field}\" must be a string"));
        }
    }
    if !matches!(
        announcement.get("metadata"),
        None | Some(Value::Null | Value::Object(_))
    ) {
        return Err("\"metadata\" must be an object".into());
    }
    let uri = announcement["serviceUri"].as_str().unwrap_or_default();
    let valid_uri = uri.split_once("://").is_some_and(|(scheme, rest)| {
        scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !scheme.is_empty()
            && !rest.is_empty()
            && !rest.starts_with('/')
    });
    if !valid_uri {
        return Err(format!(
            "\"serviceUri\" must be an absolute URI such as http://host:port, not {uri:?}"
        ));
    }
    Ok(())
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, message + "\n").into_response()
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    crate::json(status, body.to_string())
}

/// `2026-01-31T12:00:00.123Z`: a UTC time as JSON dates are usually written.
fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    #[test]
    fn dates_are_utc_rfc3339() {
        let time = UNIX_EPOCH + Duration::from_millis(1_767_225_600_123);
        assert_eq!(rfc3339(time), "2026-01-01T00:00:00.123Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn a_full_list_takes_heartbeats_only() {
        let listed: BTreeMap<String, Listed> = (0..MAX_LISTED)
            .map(|n| {
                let listed = Listed {
                    announcement: Value::Null,
                    renewed: Instant::now(),
                };
                (format!("a{n}"), listed)
            })
            .collect();
        assert_eq!(room_for(&listed, "a7"), Ok(()));
        assert_eq!(
            room_for(&listed, "new"),
            Err(
                "this discovery server lists at most 100 announcements: new is not listed \
                 (unannounce one, or wait for a lease to end)"
                    .into()
            )
        );
        assert_eq!(room_for(&BTreeMap::new(), "new"), Ok(()));
    }

    #[test]
    fn announcements_need_an_id_a_type_and_an_absolute_uri() {
        let valid = json!({"announcementId": "a", "serviceType": "t", "serviceUri": "http://h:1"});
        let check = |change: &dyn Fn(&mut Value)| {
            let mut announcement = valid.clone();
            change(&mut announcement);
            validate(announcement.as_object().unwrap())
        };
        assert_eq!(check(&|_| {}), Ok(()));
        assert_eq!(
            check(&|a| a["serviceUri"] = "h:1".into()),
            Err(
                "\"serviceUri\" must be an absolute URI such as http://host:port, not \"h:1\""
                    .into()
            )
        );
        assert_eq!(
            check(&|a| drop(a.as_object_mut().unwrap().remove("serviceType"))),
            Err("\"serviceType\" is missing".into())
        );
        assert_eq!(
            check(&|a| a["announcementId"] = 7.into()),
            Err("\"announcementId\" must be a string, not 7".into())
        );
        assert_eq!(
            check(&|a| a["metadata"] = "x".into()),
            Err("\"metadata\" must be an object".into())
        );
    }
}
