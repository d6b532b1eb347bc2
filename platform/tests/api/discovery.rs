//! The platform's discovery server over HTTP, as step 09 and OpenTable's clients use it:
//! /watch, announce, heartbeat, unannounce, expiry, and what it refuses. No Docker needed.

use std::{
    thread,
    time::{Duration, Instant},
};

use platform::discovery::Discovery;
use serde_json::{Value, json};
use test_support::stand_in::StandIn;

/// A discovery server whose announcements expire after `ttl`.
fn start(ttl: Duration) -> (StandIn, Discovery) {
    let discovery = Discovery::new("http://127.0.0.1:8090".into(), ttl);
    (StandIn::start(discovery.router()), discovery)
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client")
}

fn announcement(id: &str, port: u16) -> Value {
    json!({
        "announcementId": id,
        "serviceType": "hello-mesos",
        "serviceUri": format!("http://127.0.0.1:{port}"),
        "environment": "local",
    })
}

fn post(server: &StandIn, body: &str) -> (u16, String) {
    let response = client()
        .post(format!("{}/announcement", server.url()))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .expect("an answer");
    (
        response.status().as_u16(),
        response.text().unwrap_or_default(),
    )
}

/// `DELETE /announcement/{id}`: the status.
fn unannounce(server: &StandIn, id: &str) -> u16 {
    client()
        .delete(format!("{}/announcement/{id}", server.url()))
        .send()
        .expect("an answer")
        .status()
        .as_u16()
}

fn watch(server: &StandIn) -> Value {
    let body = client()
        .get(format!("{}/watch", server.url()))
        .send()
        .expect("an answer")
        .text()
        .expect("a body");
    serde_json::from_str(&body).expect("JSON")
}

/// The service URIs /watch lists for `service_type`.
fn listed(server: &StandIn, service_type: &str) -> Vec<String> {
    let watch = watch(server);
    let updates = watch["updates"].as_array().cloned().unwrap_or_default();
    updates
        .into_iter()
        .filter(|update| update["serviceType"] == service_type)
        .map(|update| {
            update["serviceUri"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn watch_lists_the_discovery_server_itself() {
    let (server, _) = start(Duration::from_secs(25));
    let watch = watch(&server);
    assert_eq!(watch["fullUpdate"], true);
    assert_eq!(listed(&server, "discovery"), ["http://127.0.0.1:8090"]);
}

#[test]
fn an_announcement_is_answered_201_with_its_lease_and_listed_once() {
    let (server, _) = start(Duration::from_secs(25));
    let sent = announcement("a1", 31000);
    let (status, body) = post(&server, &sent.to_string());
    assert_eq!(status, 201, "{body}");
    let lease: Value = serde_json::from_str(&body).expect("JSON");
    for field in ["announcementId", "serviceType", "serviceUri", "environment"] {
        assert_eq!(lease[field], sent[field], "{field}");
    }
    assert_eq!(lease["staticAnnouncement"], false);
    assert!(
        lease["announceTime"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{lease}"
    );

    // A heartbeat is the same announcement again: still listed once.
    assert_eq!(post(&server, &sent.to_string()).0, 201);
    assert_eq!(listed(&server, "hello-mesos"), ["http://127.0.0.1:31000"]);
}

#[test]
fn an_unannounced_service_leaves_the_list_at_once() {
    let (server, discovery) = start(Duration::from_secs(25));
    post(&server, &announcement("a1", 31000).to_string());
    post(&server, &announcement("a2", 31001).to_string());
    assert_eq!(unannounce(&server, "a1"), 200);
    assert_eq!(listed(&server, "hello-mesos"), ["http://127.0.0.1:31001"]);
    assert_eq!(unannounce(&server, "a1"), 404);
    let events: Vec<&str> = discovery.view().events.iter().map(|e| e.event).collect();
    assert_eq!(events, ["ANNOUNCED", "ANNOUNCED", "UNANNOUNCED"]);
}

#[test]
fn an_announcement_not_renewed_expires() {
    let ttl = Duration::from_secs(1);
    let (server, discovery) = start(ttl);
    post(&server, &announcement("a1", 31000).to_string());
    // Renewed in time, it stays.
    thread::sleep(ttl / 2);
    post(&server, &announcement("a1", 31000).to_string());
    thread::sleep(ttl / 2);
    assert_eq!(listed(&server, "hello-mesos").len(), 1);
    // Then no more heartbeats.
    thread::sleep(ttl);
    assert!(listed(&server, "hello-mesos").is_empty());
    let last = discovery.view().events.pop().expect("an event");
    assert_eq!(
        (last.event, last.announcement_id.as_str()),
        ("EXPIRED", "a1")
    );
}

#[test]
fn what_a_client_must_send_is_checked() {
    let (server, _) = start(Duration::from_secs(25));
    let mut without_type = announcement("a1", 31000);
    without_type
        .as_object_mut()
        .expect("an object")
        .remove("serviceType");
    let mut bad_uri = announcement("a1", 31000);
    bad_uri["serviceUri"] = "127.0.0.1:31000".into();
    for (body, message) in [
        ("{", "the announcement is not valid JSON"),
        ("[]", "the announcement must be a JSON object"),
        (&without_type.to_string(), "\"serviceType\" is missing"),
        (
            &bad_uri.to_string(),
            "\"serviceUri\" must be an absolute URI",
        ),
    ] {
        let (status, answer) = post(&server, body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer.starts_with(message), "{body}: {answer}");
    }
    // Bodies are bounded: a huge announcement is refused before it is read whole.
    let mut huge = announcement("a1", 31000);
    huge["metadata"] = json!({ "padding": "x".repeat(100_000) });
    assert_eq!(post(&server, &huge.to_string()).0, 413);
    assert!(listed(&server, "hello-mesos").is_empty());
}

#[test]
fn a_full_list_refuses_a_new_announcement_and_takes_heartbeats() {
    // The platform's own limit: 100 listed at once (each body is at most 16 KiB).
    let (server, _) = start(Duration::from_secs(25));
    for n in 0..100 {
        let (status, body) = post(
            &server,
            &announcement(&format!("a{n}"), 31000 + n).to_string(),
        );
        assert_eq!(status, 201, "{body}");
    }
    let one_more = announcement("one-more", 31500).to_string();
    assert_eq!(
        post(&server, &one_more),
        (
            503,
            "this discovery server lists at most 100 announcements: one-more is not listed \
             (unannounce one, or wait for a lease to end)\n"
                .to_string()
        )
    );
    assert_eq!(post(&server, &announcement("a7", 31007).to_string()).0, 201);
    assert_eq!(unannounce(&server, "a8"), 200);
    assert_eq!(post(&server, &one_more).0, 201);
    assert_eq!(listed(&server, "hello-mesos").len(), 100);
}

#[test]
fn a_watch_since_the_next_index_waits_for_the_change() {
    let (server, _) = start(Duration::from_secs(25));
    let index = watch(&server)["index"].as_u64().expect("an index");
    let url = format!("{}/watch?since={}", server.url(), index + 1);
    let waiting = thread::spawn(move || {
        let body = client()
            .get(url)
            .send()
            .expect("an answer")
            .text()
            .expect("a body");
        (Instant::now(), body)
    });
    thread::sleep(Duration::from_millis(300));
    // The watcher's answer must wait for this change: it comes after it, and lists it. (Its
    // time is taken when it ends, not from when its thread began, which a busy machine delays.)
    let changed = Instant::now();
    post(&server, &announcement("a1", 31000).to_string());
    let (answered, body) = waiting.join().expect("the watcher");
    assert!(
        answered >= changed,
        "answered {:?} before the change",
        changed - answered
    );
    assert!(body.contains("http://127.0.0.1:31000"), "{body}");
}
