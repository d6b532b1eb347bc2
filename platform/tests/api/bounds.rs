//! What the model keeps and accepts stays bounded, over HTTP with simulated tasks: requests
//! and deploys stored as Singularity's ObjectMapper re-serialises them, the platform's caps,
//! the health-check timings, and a cancel that ends a deploy whatever its timings. Each
//! expectation cites what HubSpot's source does, or says that the limit is the platform's own.

use std::time::{Duration, Instant};

use crate::harness::{Answer, Api, deploy_request, mapped, plain_400};
use serde_json::{Value, json};

/// A field no Java class has, of `len` bytes.
fn junk(len: usize) -> Value {
    json!("x".repeat(len))
}

#[test]
fn unknown_fields_are_dropped_as_jacksons_objectmapper_drops_them() {
    // `SingularityService.initialize`: `FAIL_ON_UNKNOWN_PROPERTIES` off, `Include.NON_ABSENT`:
    // `SingularityRequest` and `SingularityDeploy` keep only their own properties.
    let api = Api::start();
    let answer = api.post(
        "/api/requests",
        &json!({ "id": "hello", "instance": 2, "junk": junk(20_000), "owners": null,
                 "instances": 1, "rackSensitive": false }),
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    let expected = json!({ "id": "hello", "instances": 1, "rackSensitive": false,
                           "requestType": "WORKER" });
    assert_eq!(answer.json()["request"], expected);
    assert_eq!(
        api.get("/api/requests/request/hello").json()["request"],
        expected
    );
    let list = api.get("/api/requests");
    assert!(list.body.len() < 1000, "{}", list.body.len());

    let mut deploy = deploy_request("d1", "hang");
    deploy["deploy"]["junk"] = junk(20_000);
    deploy["deploy"]["containerInfo"]["docker"]["imagee"] = json!("misspelled");
    deploy["deploy"]["metadata"] = json!({ "free": "form, kept" });
    let pending = api.post("/api/deploys", &deploy).json()["pendingDeploy"].clone();
    let history = api.history("d1").json()["deploy"].clone();
    for stored in [&pending, &history] {
        assert_eq!(stored.get("junk"), None);
        assert_eq!(
            stored["containerInfo"]["docker"],
            // With what `SingularityDockerInfo`'s constructor fills in.
            json!({ "image": "alice/hello-mesos:hang", "network": "HOST", "privileged": false,
                    "portMappings": [], "forcePullImage": false, "dockerParameters": [] })
        );
        assert_eq!(stored["metadata"], json!({ "free": "form, kept" }));
    }
}

#[test]
fn bodies_over_32_kib_are_refused_with_the_platforms_limit() {
    // The platform's own limit (Jetty sets none): a real deploy is a few hundred bytes.
    let api = Api::start();
    let message = "This practice platform takes bodies of at most 32 KiB";
    let big = api.post(
        "/api/requests",
        &json!({ "id": "hello", "junk": junk(40_000) }),
    );
    mapped(&big, 413, message);
    api.request(1);
    let mut deploy = deploy_request("d1", "7");
    deploy["deploy"]["junk"] = junk(40_000);
    mapped(&api.post("/api/deploys", &deploy), 413, message);
}

#[test]
fn requests_are_capped_at_50_and_updates_still_pass() {
    // The platform's own limit: Singularity keeps as many requests as ZooKeeper holds.
    let api = Api::start();
    for n in 0..50 {
        let answer = api.post("/api/requests", &json!({ "id": format!("r{n}") }));
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    plain_400(
        &api.post("/api/requests", &json!({ "id": "one_more" })),
        "This practice platform keeps at most 50 requests; restart it to begin afresh",
    );
    let update = api.post("/api/requests", &json!({ "id": "r7", "instances": 2 }));
    assert_eq!(update.status, 200, "{update:?}");
}

#[test]
fn the_history_keeps_the_newest_20_deploys_and_the_active_one() {
    // Singularity's `SingularityHistoryPurger` removes old deploys (by age); here the oldest
    // beyond 20 per request leave, never the active or the pending one.
    let api = Api::start();
    api.request(1);
    api.deploy("d1", "7");
    assert_eq!(api.result("d1")["deployState"], "SUCCEEDED");
    for n in 2..=22 {
        let id = format!("d{n}");
        assert_eq!(api.deploy(&id, "hang").status, 200);
        api.delete(&format!("/api/deploys/deploy/{id}/request/hello"));
        assert_eq!(api.result(&id)["deployState"], "CANCELED");
    }
    for gone in ["d2", "d3"] {
        assert_eq!(api.history(gone).status, 404, "{gone}");
    }
    for kept in ["d1", "d4", "d22"] {
        assert_eq!(api.history(kept).status, 200, "{kept}");
    }
    let parent = api.get("/api/requests/request/hello").json();
    assert_eq!(parent["activeDeploy"]["id"], "d1");
}

/// Posts a deploy of `hello` with these health-check options.
fn with_healthcheck(api: &Api, id: &str, tag: &str, options: Value) -> Answer {
    let mut deploy = deploy_request(id, tag);
    let fields = deploy["deploy"].as_object_mut().unwrap();
    fields.remove("healthcheckUri");
    fields.insert(
        "healthcheck".into(),
        json!({ "uri": "/health", "portIndex": 0 }),
    );
    for (name, value) in options.as_object().unwrap() {
        match name.as_str() {
            "deployHealthTimeoutSeconds" | "considerHealthyAfterRunningForSeconds" => {
                fields.insert(name.clone(), value.clone());
            }
            _ => {
                fields["healthcheck"][name] = value.clone();
            }
        }
    }
    api.post("/api/deploys", &deploy)
}

#[test]
fn health_check_timings_are_held_within_bounds() {
    let api = Api::start();
    api.request(1);
    // `SingularityValidator.checkDeploy`'s rule on `healthcheckMaxTotalTimeoutSeconds`, which
    // the platform sets to an hour (Singularity: unset). Its sum would wrap in Java's int.
    plain_400(
        &with_healthcheck(&api, "d1", "7", json!({ "intervalSeconds": 2_147_483_647 })),
        "Max healthcheck time cannot be greater than 3600, (was startup timeout: 1, interval: 2147483647, attempts: 1)",
    );
    // Bounds Singularity does not set: the platform's own, in its own words.
    plain_400(
        &with_healthcheck(&api, "d1", "7", json!({ "intervalSeconds": 0 })),
        "This practice platform does not accept healthcheck.intervalSeconds 0: it checks at most once a second (the least is 1)",
    );
    plain_400(
        &with_healthcheck(&api, "d1", "7", json!({ "maxRetries": -1 })),
        "This practice platform does not accept a negative healthcheck.maxRetries (-1)",
    );
    plain_400(
        &with_healthcheck(
            &api,
            "d1",
            "7",
            json!({ "deployHealthTimeoutSeconds": 86_400 }),
        ),
        "This practice platform does not accept deployHealthTimeoutSeconds over 3600 (an hour), it is 86400",
    );
    assert_eq!(api.history("d1").status, 404);
}

#[test]
fn at_the_least_interval_taken_the_checker_does_not_spin() {
    // The smallest `intervalSeconds` a deploy may ask for (the platform's own bound: 1), and
    // there a task that fails its checks is not checked in a loop: at most once in its
    // first 0.6 s (at 0 it was checked every 10 ms; the view keeps the last 10 checks).
    let api = Api::start();
    api.request(1);
    (0..)
        .find(|n| {
            let options = json!({ "intervalSeconds": n, "startupTimeoutSeconds": 60 });
            with_healthcheck(&api, &format!("d{n}"), "no-health", options).status == 200
        })
        .expect("an interval taken");
    std::thread::sleep(Duration::from_millis(600));
    let view = api.singularity.view();
    let checks = view.tasks[0].health_checks.len();
    assert!(checks <= 1, "{checks} checks in 0.6 s");
}

/// Cancels `id` and waits for its result: CANCELED within two seconds.
fn cancel_at_once(api: &Api, id: &str) {
    let asked = Instant::now();
    let answer = api.delete(&format!("/api/deploys/deploy/{id}/request/hello"));
    assert_eq!(answer.status, 200, "{answer:?}");
    let deadline = asked + Duration::from_secs(2);
    loop {
        let result = &api.history(id).json()["deployResult"];
        if !result.is_null() {
            assert_eq!(result["deployState"], "CANCELED", "{result}");
            return;
        }
        assert!(Instant::now() < deadline, "{id} not canceled within 2 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_cancel_ends_the_deploy_at_once_whatever_its_timings() {
    // `DeployResource.cancelDeploy` asks; the checker ends the deploy CANCELED at its next
    // look, which a cancel brings forward here instead of waiting out the interval.
    let api = Api::start();
    api.request(1);
    // 50 minutes between two looks.
    let answer = with_healthcheck(&api, "d1", "hang", json!({ "intervalSeconds": 3000 }));
    assert_eq!(answer.status, 200, "{answer:?}");
    cancel_at_once(&api, "d1");
    // A look held up by a check that waits 50 minutes for its answer (the first look comes
    // after the platform's interval, 50 ms here).
    let answer = with_healthcheck(
        &api,
        "d2",
        "hang",
        json!({ "responseTimeoutSeconds": 3000 }),
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    std::thread::sleep(Duration::from_millis(300));
    cancel_at_once(&api, "d2");
    // The next deploy is taken and runs.
    assert_eq!(api.deploy("d3", "7").status, 200);
    assert_eq!(api.result("d3")["deployState"], "SUCCEEDED");
}
