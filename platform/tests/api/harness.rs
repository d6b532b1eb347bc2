//! The API tests' harness: a model served over HTTP with simulated tasks, and the calls and
//! checks the tests make. Each test file uses part of it.

use std::time::{Duration, Instant};

use platform::{runtime::simulated::LocalSingularity, singularity::Settings};
use serde_json::{Value, json};

/// One answer: status, content type and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", self.body))
    }
}

pub fn call(method: &str, url: &str, body: Option<&str>) -> Answer {
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a client");
    let mut request = client.request(method.parse().expect("a method"), url);
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    let response = request
        .send()
        .unwrap_or_else(|err| panic!("{method} {url}: {err}"));
    Answer {
        status: response.status().as_u16(),
        content_type: response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body: response.text().expect("a body"),
    }
}

pub struct Api {
    pub singularity: LocalSingularity,
}

impl Api {
    pub fn start() -> Api {
        Api::with(LocalSingularity::quick())
    }

    pub fn with(settings: Settings) -> Api {
        Api {
            singularity: LocalSingularity::start(settings),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.singularity.url())
    }

    pub fn get(&self, path: &str) -> Answer {
        call("GET", &self.url(path), None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Answer {
        call("POST", &self.url(path), Some(&body.to_string()))
    }

    pub fn put(&self, path: &str, body: &Value) -> Answer {
        call("PUT", &self.url(path), Some(&body.to_string()))
    }

    pub fn delete(&self, path: &str) -> Answer {
        call("DELETE", &self.url(path), None)
    }

    /// Polls `path` until `done` holds for its JSON answer; returns that answer.
    pub fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let answer = self.get(path);
            assert_eq!(answer.status, 200, "{answer:?}");
            let body = answer.json();
            if done(&body) {
                return body;
            }
            assert!(Instant::now() < deadline, "{path}: still {body}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Creates the request `hello` with `instances`.
    pub fn request(&self, instances: u32) {
        let answer = self.post(
            "/api/requests",
            &json!({ "id": "hello", "owners": ["alice@example.com"], "daemon": true,
                     "loadBalanced": false, "instances": instances }),
        );
        assert_eq!(answer.status, 200, "{answer:?}");
    }

    /// Posts a deploy of `hello` with this id and image tag.
    pub fn deploy(&self, id: &str, tag: &str) -> Answer {
        self.post("/api/deploys", &deploy_request(id, tag))
    }

    pub fn history(&self, deploy_id: &str) -> Answer {
        self.get(&format!("/api/history/request/hello/deploy/{deploy_id}"))
    }

    /// Creates the request with `instances`, deploys `tag` as `d1`, and returns its result.
    pub fn deploy_to_its_end(&self, instances: u32, tag: &str) -> Value {
        self.request(instances);
        self.deploy("d1", tag);
        self.result("d1")
    }

    /// Polls the history until the deploy has a result; returns it.
    pub fn result(&self, deploy_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let history = self.history(deploy_id);
            assert_eq!(history.status, 200, "{history:?}");
            let result = &history.json()["deployResult"];
            if !result.is_null() {
                return result.clone();
            }
            assert!(Instant::now() < deadline, "no result for {deploy_id}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub fn deploy_request(id: &str, tag: &str) -> Value {
    json!({
        "deploy": {
            "requestId": "hello", "id": id,
            "containerInfo": { "type": "DOCKER",
                "docker": { "image": format!("alice/hello-mesos:{tag}"), "network": "HOST" } },
            "resources": { "cpus": 0.1, "memoryMb": 64, "numPorts": 1 },
            "env": { "OT_ENV": "pp-sf" },
            "healthcheckUri": "/health",
        },
        "message": "why",
        "user": "an unknown field, ignored",
    })
}

pub fn plain_400(answer: &Answer, message: &str) {
    assert_eq!(
        (
            answer.status,
            answer.content_type.as_str(),
            answer.body.as_str()
        ),
        (400, "text/plain", message)
    );
}

pub fn mapped(answer: &Answer, status: u16, message: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.content_type, "application/json");
    assert_eq!(answer.json(), json!({ "code": status, "message": message }));
}
