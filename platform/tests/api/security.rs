//! The platform's doors, tried as a web page or a greedy client would: its real binary, started
//! with a `docker` stand-in (no engine needed: nothing here runs a task). A page of another
//! site may send requests to localhost (rebound to it by DNS, or cross-site), and a client may
//! hold many connections; only the learner's own browser and tools get in, and always do.

use std::{
    io::Write,
    net::TcpStream,
    process::Command,
    time::{Duration, Instant},
};

use nix::sys::{
    resource::{Resource, getrlimit, setrlimit},
    signal::Signal,
};
use serde_json::{Value, json};
use test_support::{
    app::App,
    browser::{Tab, chromium},
    docker_stand_in::DockerStandIn,
    http::client,
    platform,
};

/// The platform's binary on ports it chooses, with a `docker` stand-in.
struct Platform {
    app: App,
    port: u16,
    discovery: u16,
    _docker: DockerStandIn,
}

impl Platform {
    /// Starts it, under a limit of `open_files` descriptors if given (as `ulimit -n` sets it).
    fn start(open_files: Option<u32>) -> Platform {
        let docker = DockerStandIn::new();
        let limit = open_files.map_or(String::new(), |n| format!("ulimit -n {n} && "));
        let mut command = Command::new("sh");
        command
            .args(["-c", &format!(r#"{limit}exec "$0" "$@""#)])
            .arg(env!("CARGO_BIN_EXE_platform"))
            .args(["--port", "0", "--discovery-port", "0"]);
        let path = std::env::var("PATH").unwrap_or_default();
        let program = docker.program();
        let env = [
            ("PATH", path.as_str()),
            ("DOCKER", program.to_str().unwrap()),
        ];
        let started = platform::start(command, &env, Duration::from_secs(30));
        Platform {
            app: started.app,
            port: started.port,
            discovery: started.discovery,
            _docker: docker,
        }
    }

    /// `METHOD http://127.0.0.1:{port}{path}` with these headers and body: status and body.
    fn send(&self, port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        self.send_body(port, method, path, headers, "")
    }

    fn send_body(
        &self,
        port: u16,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let url = format!("http://127.0.0.1:{port}{path}");
        let mut request = client().request(method.parse().expect("a method"), &url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        match request.body(body.to_string()).send() {
            Ok(response) => (
                response.status().as_u16(),
                response.text().unwrap_or_default(),
            ),
            Err(err) => self.app.fail(&format!("{method} {url}: {err}")),
        }
    }

    /// `POST` of a JSON body, as the workshop's tools send it (no `Origin`).
    fn post_json(&self, port: u16, path: &str, body: &Value) -> (u16, String) {
        let json = [("Content-Type", "application/json")];
        self.send_body(port, "POST", path, &json, &body.to_string())
    }

    /// The requests Singularity's API lists, by id.
    fn request_ids(&self) -> Vec<String> {
        let (status, body) = self.send(self.port, "GET", "/singularity/api/requests", &[]);
        assert_eq!(status, 200, "{body}");
        let requests: Vec<Value> = serde_json::from_str(&body).expect("JSON");
        requests
            .iter()
            .map(|r| r["request"]["id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The service types `/watch` lists.
    fn watched(&self) -> Vec<String> {
        let (status, body) = self.send(self.discovery, "GET", "/watch", &[]);
        assert_eq!(status, 200, "{body}");
        let watch: Value = serde_json::from_str(&body).expect("JSON");
        let updates = watch["updates"].as_array().cloned().unwrap_or_default();
        updates
            .iter()
            .map(|u| u["serviceType"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

fn announcement(id: &str, uri: &str) -> Value {
    json!({"announcementId": id, "serviceType": "hello-mesos", "serviceUri": uri})
}

#[test]
fn a_rebound_name_is_refused_on_every_port() {
    let platform = Platform::start(None);
    let (api, discovery) = (platform.port, platform.discovery);
    let request = json!({"id": "rebound", "instances": 1}).to_string();
    let announced = announcement("rebound", "http://127.0.0.1:31000").to_string();
    let calls = [
        (api, "GET", "/", ""),
        (api, "GET", "/page.js", ""),
        (api, "GET", "/platform/state", ""),
        (api, "GET", "/singularity/api/requests", ""),
        (api, "POST", "/singularity/api/requests", request.as_str()),
        (discovery, "GET", "/watch", ""),
        (discovery, "POST", "/announcement", announced.as_str()),
    ];
    for (port, method, path, body) in calls {
        let host = format!("evil.example:{port}");
        let origin = format!("http://evil.example:{port}");
        let json = ("Content-Type", "application/json");
        for headers in [
            vec![("Host", host.as_str()), json],
            vec![("Host", host.as_str()), ("Origin", origin.as_str()), json],
            vec![("Host", "localhost.evil.example"), json],
        ] {
            let (status, answer) = platform.send_body(port, method, path, &headers, body);
            assert_eq!(status, 403, "{method} :{port}{path} {headers:?}: {answer}");
            assert!(answer.starts_with("refused: Host "), "{answer}");
            assert_eq!(answer.lines().count(), 1, "{answer}");
        }
        if method == "GET" {
            let own = format!("LOCALHOST.:{port}");
            let (status, answer) = platform.send(port, method, path, &[("Host", &own)]);
            assert_eq!(
                status, 200,
                "{method} :{port}{path} as localhost.: {answer}"
            );
        }
    }
    assert!(platform.request_ids().is_empty());
    assert_eq!(platform.watched(), ["discovery"]);
}

#[test]
fn a_second_origin_is_not_passed_over() {
    // A request that names our origin first and another after it is refused, as a second
    // `Host` is: both are read, not the first alone.
    let platform = Platform::start(None);
    let (api, discovery) = (platform.port, platform.discovery);
    let request = json!({"id": "twice", "instances": 1}).to_string();
    let announced = announcement("twice", "http://127.0.0.1:31000").to_string();
    for (port, path, body) in [
        (api, "/singularity/api/requests", request.as_str()),
        (discovery, "/announcement", announced.as_str()),
    ] {
        let own = format!("http://localhost:{port}");
        let headers = [
            ("Content-Type", "application/json"),
            ("Origin", own.as_str()),
            ("Origin", "http://evil.example"),
        ];
        let (status, answer) = platform.send_body(port, "POST", path, &headers, body);
        assert_eq!(status, 403, "POST :{port}{path}: {answer}");
        assert!(
            answer.starts_with("refused: a POST from another site (Origin "),
            "{answer}"
        );
        // Our origin alone gets in.
        let (status, answer) = platform.send_body(port, "POST", path, &headers[..2], body);
        assert!(matches!(status, 200 | 201), "POST :{port}{path}: {answer}");
    }
    assert_eq!(platform.request_ids(), ["twice"]);
}

#[test]
fn bodiless_posts_from_another_site_change_nothing() {
    let platform = Platform::start(None);
    let api = platform.port;
    let created = platform.post_json(api, "/singularity/api/requests", &json!({"id": "hello"}));
    assert_eq!(created.0, 200, "{}", created.1);
    let state = || {
        let (_, body) = platform.send(api, "GET", "/singularity/api/requests/request/hello", &[]);
        let parent: Value = serde_json::from_str(&body).expect("JSON");
        parent["state"].as_str().unwrap_or_default().to_string()
    };
    let own = format!("http://localhost:{api}");
    let foreign = ["http://evil.example", "null", "http://localhost:8000"];
    let steps = [
        (
            "POST",
            "/singularity/api/requests/request/hello/pause",
            None,
            200,
            "PAUSED",
        ),
        (
            "POST",
            "/singularity/api/requests/request/hello/unpause",
            Some(own.as_str()),
            200,
            "ACTIVE",
        ),
        (
            "POST",
            "/singularity/api/disasters/disabled-actions/DEPLOY",
            None,
            204,
            "ACTIVE",
        ),
        (
            "DELETE",
            "/singularity/api/disasters/disabled-actions/DEPLOY",
            Some(own.as_str()),
            204,
            "ACTIVE",
        ),
    ];
    for (method, path, origin, expected, after) in steps {
        let before = state();
        for origin in foreign {
            let (status, answer) = platform.send(api, method, path, &[("Origin", origin)]);
            assert_eq!(status, 403, "{method} {path} from {origin}: {answer}");
            assert!(answer.starts_with("refused: a "), "{answer}");
            assert_eq!(
                state(),
                before,
                "{method} {path} from {origin} changed the request"
            );
        }
        let headers: Vec<(&str, &str)> = origin.map(|o| ("Origin", o)).into_iter().collect();
        let (status, answer) = platform.send(api, method, path, &headers);
        assert_eq!(
            status, expected,
            "{method} {path} from {origin:?}: {answer}"
        );
        assert_eq!(state(), after, "{method} {path}");
    }
}

#[test]
fn an_announcement_must_be_json_and_not_from_another_site() {
    let platform = Platform::start(None);
    let body = announcement("a1", "http://127.0.0.1:31000").to_string();
    let plain = ("Content-Type", "text/plain");
    let (status, answer) =
        platform.send_body(platform.discovery, "POST", "/announcement", &[plain], &body);
    assert_eq!(
        (status, answer.as_str()),
        (
            415,
            "an announcement must be sent as Content-Type: application/json\n"
        )
    );
    let evil = ("Origin", "http://evil.example");
    let (status, answer) = platform.send_body(
        platform.discovery,
        "POST",
        "/announcement",
        &[plain, evil],
        &body,
    );
    assert_eq!(status, 403, "{answer}");
    assert_eq!(platform.watched(), ["discovery"]);
    // As step 09 sends it: JSON, no Origin.
    let (status, answer) = platform.post_json(
        platform.discovery,
        "/announcement",
        &announcement("a1", "http://127.0.0.1:31000"),
    );
    assert_eq!(status, 201, "{answer}");
    assert_eq!(platform.watched(), ["discovery", "hello-mesos"]);
}

/// How many connections the greedy client holds: more than the platform's 1024 open files.
const HELD: usize = 1100;

/// Connects `count` times to `port` and sends `head` (maybe nothing) on each; keeps them open.
fn hold(port: u16, count: usize, head: &str) -> Vec<TcpStream> {
    (0..count)
        .map(|n| {
            let mut stream = TcpStream::connect(("127.0.0.1", port))
                .unwrap_or_else(|err| panic!("connection {n} to :{port}: {err}"));
            stream.write_all(head.as_bytes()).expect("the head sent");
            stream
        })
        .collect()
}

#[test]
fn idle_and_half_sent_connections_do_not_lock_the_learner_out() {
    // The greedy client needs more descriptors than the platform gets.
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("the open files limit");
    let needed = 2 * HELD as u64 + 200;
    if soft < needed {
        setrlimit(Resource::RLIMIT_NOFILE, needed.min(hard), hard).expect("a higher limit");
    }
    let platform = Platform::start(Some(1024));
    let half_sent = format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", platform.port);
    let _api = hold(platform.port, HELD, &half_sent);
    let _discovery = hold(platform.discovery, HELD, "");

    // The learner's own requests, each on a new connection, as a browser or a tool opens one.
    let mut slowest = Duration::ZERO;
    for round in 0..5 {
        let started = Instant::now();
        let (status, body) = platform.send(platform.port, "GET", "/platform/state", &[]);
        assert_eq!(status, 200, "{body}");
        let id = format!("learner{round}");
        let (status, body) = platform.post_json(
            platform.port,
            "/singularity/api/requests",
            &json!({"id": id}),
        );
        assert_eq!(status, 200, "{body}");
        let (status, body) = platform.send(platform.discovery, "GET", "/watch", &[]);
        assert_eq!(status, 200, "{body}");
        slowest = slowest.max(started.elapsed());
    }
    eprintln!("with {HELD} connections held on each port, 3 requests took at most {slowest:?}");
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");

    // And Ctrl+C still stops it at once.
    let mut app = platform.app;
    app.signal(Signal::SIGINT);
    let status = app.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{}", app.stderr());
}

#[test]
fn a_hostile_announcement_is_shown_as_text_and_clicking_it_runs_nothing() {
    let Some(browser) = chromium() else {
        return;
    };
    let platform = Platform::start(None);
    // What a click would run if it were a link: a request created through the API.
    let payload = "fetch('/singularity/api/requests',{method:'POST',\
                   headers:{'Content-Type':'application/json'},body:JSON.stringify({id:'ID'})})";
    let hostile = [
        format!("javascript://%0a{}", payload.replace("ID", "clicked")),
        format!(
            "JavaScript://127.0.0.1:31000/%0a{}",
            payload.replace("ID", "task_like")
        ),
    ];
    let harmless = "http://127.0.0.1:31001";
    for (n, uri) in hostile
        .iter()
        .map(String::as_str)
        .chain([harmless])
        .enumerate()
    {
        let (status, answer) = platform.post_json(
            platform.discovery,
            "/announcement",
            &announcement(&format!("a{n}"), uri),
        );
        assert_eq!(status, 201, "{answer}");
    }

    let url = format!("http://127.0.0.1:{}/", platform.port);
    let page = client().get(&url).send().expect("the page");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("a policy in ASCII")
        .to_string();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }

    let mut tab = Tab::open(&browser, &url).expect("the page in a browser");
    // The page's own script runs (from /page.js, as its policy allows) and lists all three.
    let listed = format!(
        "document.getElementById('announcements')?.textContent.includes({:?}) === true",
        hostile[1]
    );
    tab.wait_for(&listed, Duration::from_secs(20))
        .expect("the announcements listed");
    let links = tab
        .evaluate("[...document.querySelectorAll('a')].map(a => a.href)")
        .expect("the links");
    assert_eq!(
        links,
        json!([format!("{harmless}/")]),
        "only the http URI is a link"
    );

    for uri in &hostile {
        // Where the URI is shown, as a learner would click it.
        let find = format!(
            "(() => {{ const cell = [...document.querySelectorAll('#announcements td')]
                 .find(td => td.textContent === {uri:?});
               cell.scrollIntoView();
               const box = (cell.firstChild.nodeType === 1 ? cell.firstChild : cell)
                 .getBoundingClientRect();
               return [box.left + 5, box.top + box.height / 2]; }})()"
        );
        let at = tab.evaluate(&find).expect("the URI on the page");
        let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        tab.click(x, y).expect("a click");
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        platform.request_ids().is_empty(),
        "a click ran the announcement's script: {:?}",
        platform.request_ids()
    );
}
