//! The agent's images: how a Mesos agent's Docker containerizer gets a task's image
//! (`Docker::pull` in Mesos's `src/docker/docker.cpp`), for an image whose name has a registry
//! host (`localhost:5001/alice/hello-mesos:7`).
//!
//! The agent is another machine than the laptop that built the image: what it has is only what
//! it pulled itself. Without `forcePullImage` it inspects the image (`:latest` added to a name
//! without a tag) and uses it as it is if it has it, pulling only if not; with
//! `forcePullImage` it always pulls. So a `latest` pushed again is not picked up by an agent
//! that already has one. The platform keeps that record (name → digest) for as long as it
//! runs, and pulls by digest, resolved from the registry: the laptop's own tags are never
//! moved. An image without a registry host is run from the laptop's engine as it is, a
//! shortcut that skips the registry (and hides what a stale `latest` does).

use std::{collections::HashMap, time::Duration};

use super::reference::{Reference, is_digest};

/// How long the registry has to answer, connection included.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an error answer read, for its message; a manifest's answer is not read at all.
const ERROR_LIMIT: usize = 64 * 1024;
/// What Docker accepts when it asks a registry for a manifest: without these a registry may
/// answer an old schema, whose digest is not the one pushed.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/// Where a task's image comes from.
#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    /// No registry host in its name: the laptop's engine's image, run as it is.
    Local,
    /// The agent has it: what it pulled under this name before, `name@digest`.
    Have(String),
    /// The agent pulls it first.
    Pull,
}

/// The name the agent inspects and records an image by: Mesos adds `:latest` when the last
/// part of the name has no `:`.
pub fn agent_name(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// Where `image` comes from for a task, given what the agent `pulled` (name → `name@digest`)
/// and the `registries` it may pull from; `Err` is why this platform does not pull it,
/// which fails the task.
pub fn source(
    image: &str,
    force_pull: bool,
    pulled: &HashMap<String, String>,
    registries: &[String],
) -> Result<Source, String> {
    let registry = Reference::parse(image).ok().and_then(|r| r.registry);
    match registry {
        // The laptop's image: a pull would go to Docker Hub, and replace the laptop's tag.
        None if force_pull => Err(format!(
            "This practice platform does not pull from Docker Hub: forcePullImage on {image:?}, \
             a name without a registry host, would replace your own image of that name (push it \
             to your registry and deploy that name, see docs/05-push.md)"
        )),
        None => Ok(Source::Local),
        Some(registry) if !registries.iter().any(|r| r == registry) => Err(format!(
            "This practice platform pulls only from the registries it was started with \
             (--registry, {}): {image:?} names the registry {registry:?}",
            registries.join(", ")
        )),
        Some(_) if force_pull => Ok(Source::Pull),
        Some(_) => Ok(match pulled.get(&agent_name(image)) {
            Some(pinned) => Source::Have(pinned.clone()),
            None => Source::Pull,
        }),
    }
}

/// `name@digest`: the image by its content, whatever its tag says later.
pub fn pinned(reference: &Reference, digest: &str) -> String {
    let registry = reference.registry.unwrap_or_default();
    format!("{registry}/{}@{digest}", reference.path)
}

/// The message of a task whose image could not be pulled, as a Mesos agent gives it: the
/// command that failed, its exit status and Docker's words.
pub fn pull_failed(image: &str, docker_said: &str) -> String {
    format!(
        "Failed to launch container: Failed to run 'docker -H unix:///var/run/docker.sock pull \
         {image}': exited with status 1; stderr='Error response from daemon: {docker_said}'"
    )
}

/// A registry's HTTP API (plain HTTP, as Docker speaks to a registry on the loopback), asked
/// only which digest a tag names. Every answer is bounded in time and size, and no redirect
/// is followed.
#[derive(Clone, Debug)]
pub struct Registry {
    client: reqwest::Client,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::within(REGISTRY_TIMEOUT)
    }
}

impl Registry {
    /// A client whose every request, connection included, ends within `timeout`.
    fn within(timeout: Duration) -> Registry {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("a client without TLS builds");
        Registry { client }
    }
}

/// One error of a registry's answer (`{"errors": [{"code", "message"}]}`).
#[derive(serde::Deserialize)]
struct Errors {
    errors: Vec<RegistryError>,
}

#[derive(serde::Deserialize)]
struct RegistryError {
    code: String,
    message: String,
}

impl Registry {
    /// The digest `image` names now in its registry, or why not, in Docker's words. A
    /// reference with a digest names it already.
    pub async fn digest(&self, image: &str) -> Result<String, String> {
        let reference = Reference::parse(image).map_err(|why| format!("{image:?}: {why}"))?;
        if let Some(digest) = reference.digest {
            return Ok(digest.to_string());
        }
        let registry = reference.registry.unwrap_or_default();
        let tag = reference.tag.unwrap_or("latest");
        let url = format!("http://{registry}/v2/{}/manifests/{tag}", reference.path);
        let mut response = (self.client.get(&url))
            .header("Accept", MANIFEST_TYPES)
            .send()
            .await
            .map_err(|error| format!("Get {url:?}: {}", chain(&error)))?;
        let status = response.status();
        if status.is_success() {
            let digest = response
                .headers()
                .get("Docker-Content-Digest")
                .and_then(|value| value.to_str().ok())
                .filter(|digest| is_digest(digest));
            return digest.map(String::from).ok_or(format!(
                "the registry at {registry} answered {image} without a Docker-Content-Digest"
            ));
        }
        // The answer's errors, read up to a bound: a registry that misbehaves costs nothing.
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            body.extend_from_slice(&chunk);
            if body.len() >= ERROR_LIMIT {
                break;
            }
        }
        Err(refusal(image, status.as_u16(), &body))
    }
}

/// What Docker's daemon says when a registry refuses a manifest: `manifest for IMAGE not
/// found: manifest unknown: MESSAGE` for a 404, the registry's errors otherwise.
fn refusal(image: &str, status: u16, body: &[u8]) -> String {
    let errors = serde_json::from_slice::<Errors>(body).map_or_else(
        |_| format!("unexpected status from the registry: {status}"),
        |answer| {
            let each = answer.errors.iter().map(|error| {
                let code = error.code.to_lowercase().replace('_', " ");
                format!("{code}: {}", error.message)
            });
            each.collect::<Vec<_>>().join(", ")
        },
    );
    if status == 404 {
        format!("manifest for {image} not found: {errors}")
    } else {
        errors
    }
}

/// An error and its causes, on one line (reqwest's own says only "error sending request").
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_pulls_what_it_lacks_or_what_it_must_and_uses_what_it_has() {
        let image = "localhost:5001/alice/hello-mesos";
        let registries = ["localhost:5001".to_string()];
        let source = |image: &str, force, pulled: &HashMap<String, String>| {
            source(image, force, pulled, &registries)
        };
        let mut pulled = HashMap::new();
        assert_eq!(source(image, false, &pulled), Ok(Source::Pull));
        pulled.insert(
            format!("{image}:latest"),
            format!("{image}@sha256:{}", "a".repeat(64)),
        );
        // The same name, with or without `:latest`: the image it has, as it is.
        let have = Ok(Source::Have(format!("{image}@sha256:{}", "a".repeat(64))));
        assert_eq!(source(image, false, &pulled), have);
        assert_eq!(source(&format!("{image}:latest"), false, &pulled), have);
        // Another tag is another image; forcePullImage pulls whatever it has.
        assert_eq!(
            source(&format!("{image}:7"), false, &pulled),
            Ok(Source::Pull)
        );
        assert_eq!(source(image, true, &pulled), Ok(Source::Pull));
        // No registry host: the laptop's engine, never pulled.
        assert_eq!(source("hello-mesos:7", false, &pulled), Ok(Source::Local));
        let hub = source("alice/hello-mesos", true, &pulled).unwrap_err();
        assert!(
            hub.starts_with("This practice platform does not pull from Docker Hub"),
            "{hub}"
        );
        // A registry it was not started with: not asked anything.
        let other = source("localhost:6379/a/b:7", false, &pulled).unwrap_err();
        assert!(
            other.ends_with("(--registry, localhost:5001): \"localhost:6379/a/b:7\" names the registry \"localhost:6379\""),
            "{other}"
        );
    }

    #[test]
    fn names_are_recorded_as_mesos_inspects_them() {
        assert_eq!(
            agent_name("localhost:5001/a/b"),
            "localhost:5001/a/b:latest"
        );
        assert_eq!(agent_name("localhost:5001/a/b:7"), "localhost:5001/a/b:7");
        let digest = format!("sha256:{}", "a".repeat(64));
        let by_digest = format!("localhost:5001/a/b@{digest}");
        assert_eq!(agent_name(&by_digest), by_digest);
        let reference = Reference::parse("localhost:5001/a/b:7").unwrap();
        assert_eq!(pinned(&reference, &digest), by_digest);
    }

    #[tokio::test]
    async fn a_registry_that_misbehaves_costs_a_bounded_wait_and_one_request() {
        use test_support::misbehaving::{Misbehaving, Misbehaviour};
        let registry = Registry::within(Duration::from_secs(1));
        let ask = |server: &Misbehaving| {
            format!("{}/a/b:7", server.host().replace("127.0.0.1", "localhost"))
        };
        // A redirect is not followed: it is an answer like any other.
        let server = Misbehaving::start(Misbehaviour::Redirect(302, "http://127.0.0.1:1/".into()));
        let said = registry.digest(&ask(&server)).await;
        assert_eq!(said, Err("unexpected status from the registry: 302".into()));
        assert_eq!(server.requests(), 1);
        // A 200 without a digest, whose body never ends: not read.
        let server = Misbehaving::start(Misbehaviour::Endless);
        let said = registry.digest(&ask(&server)).await.unwrap_err();
        assert!(said.ends_with("without a Docker-Content-Digest"), "{said}");
        // No answer at all: the time is up.
        let server = Misbehaving::start(Misbehaviour::Hang);
        let started = std::time::Instant::now();
        let said = registry.digest(&ask(&server)).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "{said}");
        assert!(said.starts_with("Get \"http://localhost:"), "{said}");
        // A registry's own refusal, in Docker's words; a reference with a digest asks nothing.
        let body = r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
        let server = Misbehaving::start(Misbehaviour::Answer(404, "application/json", body.into()));
        let said = registry.digest(&ask(&server)).await.unwrap_err();
        assert!(
            said.ends_with("/a/b:7 not found: manifest unknown: manifest unknown"),
            "{said}"
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned = format!(
            "{}/a/b@{digest}",
            server.host().replace("127.0.0.1", "localhost")
        );
        assert_eq!(registry.digest(&pinned).await, Ok(digest));
        assert_eq!(server.requests(), 1);
    }

    #[test]
    fn a_refusal_is_told_in_dockers_words() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"7"}}]}"#;
        assert_eq!(
            refusal("localhost:5001/a/b:7", 404, body),
            "manifest for localhost:5001/a/b:7 not found: manifest unknown: manifest unknown"
        );
        assert_eq!(
            refusal("localhost:5001/a/b:7", 502, b"<html>bad gateway</html>"),
            "unexpected status from the registry: 502"
        );
        assert_eq!(
            pull_failed("localhost:5001/a/b:7", "manifest for … not found"),
            "Failed to launch container: Failed to run 'docker -H unix:///var/run/docker.sock \
             pull localhost:5001/a/b:7': exited with status 1; stderr='Error response from \
             daemon: manifest for … not found'"
        );
    }
}
