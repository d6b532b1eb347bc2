//! A learner's own service, shipped as pages 04 to 09 have them ship it: their crate (the
//! fixture `test-support/fixtures/your-service`, with its copy of the discovery client) built
//! with the recipe of `docs/your-service`, pushed to a registry on this machine, deployed from
//! the platform's agent, which pulls it as a Mesos agent does.

use std::{
    fs,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tempfile::TempDir;
use test_support::{registry::Registry, singularity::command};

use crate::harness::{self, Platform, docker, root, run_session, skip};

/// The learner's repository: `alice/hello-mesos` in `docker-repo`, as page 08 has it.
const REPOSITORY: &str = "alice/hello-mesos";
/// The route a service of step 04 does not have yet.
const HEALTH_ROUTE: &str = r#".route("/health", get(started))"#;

/// The learner's crate in a directory of its own, as the pages make it: the fixture, its copy
/// of the discovery client (`cp -r ../hello-mesos/discovery-client .`), the recipe's files,
/// `config/local` announcing to `platform`'s discovery, and `docker-repo`.
fn learners_crate(platform: &Platform) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("my-hello-mesos-")
        .tempdir()
        .expect("a temporary directory");
    let root = root();
    copy_tree(&root.join("test-support/fixtures/your-service"), dir.path());
    copy_tree(
        &root.join("discovery-client"),
        &dir.path().join("discovery-client"),
    );
    copy_tree(&root.join("docs/your-service"), dir.path());
    copy_tree(&root.join("config/local"), &dir.path().join("config/local"));
    fs::write(dir.path().join("docker-repo"), format!("{REPOSITORY}\n")).expect("docker-repo");
    let deploy = dir.path().join("config/local/singularity.json");
    let mut settings: Value =
        serde_json::from_str(&fs::read_to_string(&deploy).expect("singularity.json")).unwrap();
    settings["env"]["DISCOVERY_HOST"] = format!("localhost:{}", platform.discovery.port()).into();
    fs::write(&deploy, settings.to_string()).expect("singularity.json");
    dir
}

/// Copies the files under `from` to `to`, but a `target/` directory.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("a directory");
    for entry in fs::read_dir(from).unwrap_or_else(|err| panic!("{}: {err}", from.display())) {
        let entry = entry.expect("an entry");
        let (path, name) = (entry.path(), entry.file_name());
        if path.is_dir() {
            if name != "target" {
                copy_tree(&path, &to.join(name));
            }
        } else {
            fs::copy(&path, to.join(name)).expect("a copy");
        }
    }
}

/// Rewrites `src/main.rs` in the learner's crate: `edit` of its text.
fn edit_main(dir: &Path, edit: impl Fn(&str) -> String) {
    let main = dir.join("src/main.rs");
    let text = fs::read_to_string(&main).expect("src/main.rs");
    let edited = edit(&text);
    assert_ne!(edited, text, "the edit changed nothing");
    fs::write(&main, edited).expect("src/main.rs");
}

/// `docker build -t TAG .` in `dir`, as the pages have the learner run it: how long it took.
fn build(dir: &Path, tag: &str) -> Duration {
    let started = Instant::now();
    let status = Command::new("docker")
        .args(["build", "--quiet", "--tag", tag, "."])
        .current_dir(dir)
        .status()
        .expect("docker build");
    assert!(status.success(), "docker build -t {tag} failed");
    started.elapsed()
}

/// `docker push IMAGE`.
fn push(image: &str) {
    let status = Command::new("docker")
        .args(["push", "--quiet", image])
        .status()
        .expect("docker push");
    assert!(status.success(), "docker push {image} failed");
}

/// The digest the live tasks of `deploy_id` run, as the page shows it: the same for each.
fn digest(platform: &Platform, deploy_id: &str) -> String {
    let tasks = platform.tasks(deploy_id);
    let digests: Vec<&str> = (tasks.iter())
        .map(|task| task["digest"].as_str().unwrap_or("none"))
        .collect();
    assert!(
        !digests.is_empty() && digests.iter().all(|d| *d == digests[0]),
        "{deploy_id}: {digests:?}"
    );
    digests[0].to_string()
}

/// What each live task of `deploy_id` answers to `GET /`: the same for each.
fn greeting(platform: &Platform, deploy_id: &str) -> String {
    let answers: Vec<String> = (platform.tasks(deploy_id).iter())
        .map(|task| {
            let url = format!("http://{}/", task["address"].as_str().expect("host:port"));
            test_support::http::get(&url).map_or_else(|err| err, |answer| answer.body)
        })
        .collect();
    assert!(
        !answers.is_empty() && answers.iter().all(|a| *a == answers[0]),
        "{deploy_id}: {answers:?}"
    );
    answers[0].trim().to_string()
}

/// The digest the registry gives for `image`, from `docker push`'s record on the laptop.
fn pushed_digest(image: &str) -> String {
    let format = "{{range .RepoDigests}}{{println .}}{{end}}";
    let listed = docker(&["image", "inspect", "--format", format, image]).expect("inspect");
    let (name, _) = image.rsplit_once(':').expect("a tag");
    listed
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}@")))
        .unwrap_or_else(|| panic!("no digest of {name} in {listed:?}"))
        .to_string()
}

#[test]
#[ignore = "needs Docker, docker-registry and the recipe's base image: see the top of this file"]
fn a_learners_service_is_built_pushed_and_deployed_as_pages_05_to_09_show() {
    if !harness::ready_for(&["rust:1.95-slim-bookworm"]) {
        return;
    }
    let registry = match Registry::start() {
        Ok(registry) => registry,
        Err(why) => return skip(&format!("no registry: {why}")),
    };
    let host = registry.host.as_str();
    let image = |tag: &str| format!("{host}/{REPOSITORY}:{tag}");
    let mut args = harness::FAST.to_vec();
    args.extend(["--registry", host]);
    let platform = Platform::start(&args);
    let dir = learners_crate(&platform);
    let dir = dir.path();
    let session = |page: &str, name: &str| run_session(&platform, dir, page, name, host);

    // Page 04's image, without /health: built cold, then tagged and pushed (page 05).
    let original = fs::read_to_string(dir.join("src/main.rs")).expect("src/main.rs");
    edit_main(dir, |text| text.replace(HEALTH_ROUTE, ""));
    let cold = build(dir, "my-hello-mesos");
    session("05-push.md", "05-push");
    // Deployed by hand, it fails its health checks (page 06).
    session("06-manual-deploy.md", "06-deploy");
    platform.result("hello-mesos", "manual_4");
    session("06-manual-deploy.md", "06-result");

    // Page 07: /health added, built again after that edit, pushed as :7 and deployed.
    fs::write(dir.join("src/main.rs"), &original).expect("src/main.rs");
    let started = Instant::now();
    let edited = build(dir, "my-hello-mesos");
    session("07-health.md", "07-push");
    session("07-health.md", "07-deploy");
    let result = platform.result("hello-mesos", "manual_7");
    let to_succeeded = started.elapsed();
    assert_eq!(result["deployState"], "SUCCEEDED", "{result}");
    session("07-health.md", "07-result");
    let seven = pushed_digest(&image("7"));
    assert_eq!(digest(&platform, "manual_7"), seven);

    // The `latest` trap: pushed again, `latest` is not pulled again, unless forced.
    session("07-health.md", "07-latest");
    platform.result("hello-mesos", "latest_1");
    assert_eq!(digest(&platform, "latest_1"), seven);
    edit_main(dir, |text| {
        text.replace("Hello, Axum.", "Hello again, Axum.")
    });
    build(dir, &image("latest"));
    push(&image("latest"));
    let newer = pushed_digest(&image("latest"));
    assert_ne!(newer, seven, "a new build, a new digest");
    let (status, body) = platform.call(
        "POST",
        "/singularity/api/deploys",
        Some(&json!({"deploy": {
            "requestId": "hello-mesos", "id": "latest_2",
            "containerInfo": {"type": "DOCKER", "docker": {"image": format!("{host}/{REPOSITORY}"), "network": "HOST"}},
            "resources": {"cpus": 0.1, "memoryMb": 64, "numPorts": 1}, "healthcheckUri": "/health",
        }})),
    );
    assert_eq!(status, 200, "{body}");
    platform.result("hello-mesos", "latest_2");
    assert_eq!(digest(&platform, "latest_2"), seven, "the old latest");
    assert_eq!(
        greeting(&platform, "latest_2"),
        "Hello, Axum.",
        "the old code"
    );
    // A third build, kept on the laptop: the agent's forced pull must not move its tag.
    edit_main(dir, |text| {
        text.replace("Hello again, Axum.", "Hello once more, Axum.")
    });
    build(dir, &image("latest"));
    let laptops = docker(&["image", "inspect", "--format", "{{.Id}}", &image("latest")]);
    session("07-health.md", "07-force-pull");
    platform.result("hello-mesos", "latest_3");
    assert_eq!(
        digest(&platform, "latest_3"),
        newer,
        "the registry's latest"
    );
    assert_eq!(
        greeting(&platform, "latest_3"),
        "Hello again, Axum.",
        "the new code"
    );
    let after = docker(&["image", "inspect", "--format", "{{.Id}}", &image("latest")]);
    assert_eq!(after, laptops, "the agent moved the laptop's tag");

    // A tag built but never pushed is not on the agent: the pull fails, as Mesos says it.
    docker(&["tag", "my-hello-mesos", &image("5")]).expect("docker tag");
    let otpl = harness::otpl_deploy();
    let url = platform.singularity();
    let unpushed = command(
        otpl.to_str().expect("a UTF-8 path"),
        dir,
        &[("SINGULARITY_URL", &url)],
        &["--registry", host, "--poll", "0.5", "local", "5"],
    )
    .output()
    .expect("otpl-deploy");
    let said =
        String::from_utf8_lossy(&unpushed.stdout) + String::from_utf8_lossy(&unpushed.stderr);
    assert_eq!(unpushed.status.code(), Some(1), "{said}");
    let expected = format!(
        "Failed to launch container: Failed to run 'docker -H unix:///var/run/docker.sock pull {}': \
         exited with status 1; stderr='Error response from daemon: manifest for {} not found: \
         manifest unknown: manifest unknown'",
        image("5"),
        image("5")
    );
    assert!(said.contains(&expected), "{said}");

    // Page 08: deployed from the learner's repository's config, then shipped by its script.
    fs::write(dir.join("src/main.rs"), &original).expect("src/main.rs");
    session("08-deploy-config.md", "08");
    let started = Instant::now();
    session("08-deploy-config.md", "08-ship");
    let shipped = started.elapsed();
    session("08-deploy-config.md", "08-ship-again");

    // Page 09: announced to the platform's discovery, then redeployed under a new tag; and the
    // platform's API as its page shows it, on those tasks (it ends by removing the request).
    session("09-discovery.md", "09-deploy");
    let listed = platform.watched("hello-mesos");
    assert_eq!(listed.len(), 2, "{listed:?}");
    session("09-discovery.md", "09-tasks");
    session("09-discovery.md", "09-redeploy");
    session("platform.md", "platform-api");

    eprintln!(
        "figures: cold build {:.1} s; after an edit, build {:.1} s and build to SUCCEEDED {:.1} s; \
         ship.sh {:.1} s; image {} bytes",
        cold.as_secs_f64(),
        edited.as_secs_f64(),
        to_succeeded.as_secs_f64(),
        shipped.as_secs_f64(),
        docker(&["image", "inspect", "--format", "{{.Size}}", &image("8")])
            .unwrap_or_default()
            .trim()
    );
}
