//! The client side of the protocol, run on the heartbeat's own thread: find a discovery
//! server, announce to it every heartbeat, unannounce at the end.

use std::time::Duration;

use hyper::{Method, StatusCode, body::Bytes};
use serde::{Deserialize, Serialize};
use tokio::{
    sync::oneshot,
    time::{self, MissedTickBehavior},
};
use uuid::Uuid;

use crate::{
    Settings,
    http::{send, within},
};

/// How long a whole request may take: a server that hangs must not stall the heartbeat.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// How long unannouncing may take: it happens between SIGTERM and Mesos's SIGKILL.
const UNANNOUNCE_TIMEOUT: Duration = Duration::from_secs(1);
/// The most we read of the seed host's listing. An announcement takes about 250 bytes, so
/// 1 MiB holds some 4,000: ample for a region of a few hundred services of a few instances
/// each. A longer answer is refused, whether endless or only huge: memory must not depend
/// on what a server sends.
const LISTING_LIMIT: usize = 1024 * 1024;
/// The most we read of the answer to an announcement or an unannouncement: the echo of
/// the announcement, if any, takes about 250 bytes.
const ECHO_LIMIT: usize = 4 * 1024;
/// How many of the listed discovery servers we keep. Dead servers drop out of the seed
/// host's listing like any other announcement, so once these few have failed, asking the
/// seed again beats trying the rest of a listing that may be old.
const SERVERS_KEPT: usize = 3;

/// What we announce: the same announcement, with the same id, on every heartbeat.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Announcement {
    announcement_id: Uuid,
    service_type: String,
    service_uri: String,
    environment: String,
}

/// The part of the answer to `GET /watch` that we read: the announcements listed.
#[derive(Deserialize)]
struct Watch {
    updates: Vec<Listed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    service_type: String,
    service_uri: String,
}

/// The client side of the protocol, run on the heartbeat's thread.
pub(crate) struct Heartbeat {
    /// The seed host, `DISCOVERY_HOST`.
    host: String,
    announcement: Announcement,
    /// How often the announcement is renewed.
    period: Duration,
    /// The first [`SERVERS_KEPT`] discovery servers the seed host listed; we announce to
    /// the first. A server that fails is dropped, and once none is left the seed host is
    /// asked again.
    servers: Vec<String>,
    /// The server that last accepted the announcement: the one to take it back from.
    announced_to: Option<String>,
}

impl Heartbeat {
    /// The heartbeat that announces `service_uri` as `settings` say, with a new id. It has
    /// yet to find a discovery server.
    pub(crate) fn new(settings: Settings, service_uri: String) -> Heartbeat {
        let announcement = Announcement {
            announcement_id: Uuid::new_v4(),
            service_type: settings.service_type,
            service_uri,
            environment: settings.environment,
        };
        Heartbeat {
            host: settings.host,
            announcement,
            period: settings.heartbeat,
            servers: Vec::new(),
            announced_to: None,
        }
    }

    /// Announces at once and then every period, until `stop` (sent or dropped); then
    /// unannounces.
    pub(crate) async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        let mut beat = time::interval(self.period);
        // If a beat ever takes longer than the period (a server that hangs until the request
        // times out, with a short period), start the next one a whole period later.
        beat.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            // The stop interrupts a beat wherever it is, even half-way through a request:
            // after it, we only unannounce.
            tokio::select! {
                _ = &mut stop => break,
                _ = async {
                    beat.tick().await;
                    if let Err(err) = self.renew().await {
                        eprintln!("Discovery error: {err}");
                    }
                } => {}
            }
        }
        self.unannounce().await;
    }

    /// Sends the announcement to a discovery server, first finding one if we know none.
    async fn renew(&mut self) -> Result<(), String> {
        if self.servers.is_empty() {
            self.servers = self.find_servers().await?;
        }
        let server = self.servers[0].clone();
        let url = format!("{server}/announcement");
        let json = serde_json::to_vec(&self.announcement).map_err(|err| err.to_string())?;
        let sent = send(
            Method::POST,
            &url,
            json.into(),
            &[StatusCode::CREATED],
            ECHO_LIMIT,
        );
        if let Err(err) = within(REQUEST_TIMEOUT, &url, sent).await {
            self.servers.remove(0);
            return Err(err);
        }
        if self.announced_to.replace(server).is_none() {
            let Announcement {
                service_type,
                service_uri,
                ..
            } = &self.announcement;
            println!("ANNOUNCED {service_type}@{service_uri} to {}", self.host);
        }
        Ok(())
    }

    /// Asks the seed host for the discovery servers.
    async fn find_servers(&self) -> Result<Vec<String>, String> {
        let url = format!("http://{}/watch", self.host);
        let sent = send(
            Method::GET,
            &url,
            Bytes::new(),
            &[StatusCode::OK],
            LISTING_LIMIT,
        );
        let listing = within(REQUEST_TIMEOUT, &url, sent).await?;
        let watch: Watch = serde_json::from_slice(&listing)
            .map_err(|err| format!("{url} answered an invalid listing: {err}"))?;
        let servers: Vec<String> = watch
            .updates
            .into_iter()
            .filter(|listed| listed.service_type == "discovery")
            // Only a URI of plain, visible ASCII: it goes into messages a terminal prints.
            .filter(|listed| listed.service_uri.bytes().all(|b| b.is_ascii_graphic()))
            .map(|listed| listed.service_uri.trim_end_matches('/').to_string())
            .take(SERVERS_KEPT)
            .collect();
        if servers.is_empty() {
            return Err(format!("{url} lists no discovery server"));
        }
        Ok(servers)
    }

    /// Takes the announcement off the server that last accepted it, if one did.
    async fn unannounce(&self) {
        let Some(server) = &self.announced_to else {
            return;
        };
        let id = self.announcement.announcement_id;
        let url = format!("{server}/announcement/{id}");
        let expected = [StatusCode::OK, StatusCode::NO_CONTENT];
        let sent = send(Method::DELETE, &url, Bytes::new(), &expected, ECHO_LIMIT);
        if let Err(err) = within(UNANNOUNCE_TIMEOUT, &url, sent).await {
            eprintln!("Discovery error: {err}");
        }
    }
}
