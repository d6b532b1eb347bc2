//! The deploy: the user's `singularity.json` plus what Singularity needs and the user left
//! out (an id, the Docker image, the health check, `OT_ENV`), and what its result means.

use serde_json::{Value, json};

use crate::{Error, singularity::DeployResult};

/// The image to run: `[REGISTRY/]REPO:TAG`.
pub fn image(registry: Option<&str>, repo: &str, tag: &str) -> Result<String, Error> {
    // Docker's rule for tags: word characters, `.` and `-`, up to 128, not starting with `.` or `-`.
    let valid_tag = tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && !tag.is_empty()
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid_tag {
        return Err(Error::Config(format!(
            "TAG is not a Docker tag: {tag:?} (letters, digits, _ . -)"
        )));
    }
    match registry {
        None => Ok(format!("{repo}:{tag}")),
        Some(host) if host.is_empty() || host.contains("://") || host.contains(' ') => {
            Err(Error::Config(format!(
                "--registry takes a host, e.g. docker.otenv.com, not {host:?}"
            )))
        }
        Some(host) => Ok(format!("{}/{repo}:{tag}", host.trim_end_matches('/'))),
    }
}

/// The deploy to post: `user` (the user's partial SingularityDeploy) with every field it lacks
/// filled in. A field the user set is never replaced.
pub fn build(user: &Value, environment: &str, image: &str, tag: &str) -> Value {
    let mut deploy = user.clone();
    fill(
        &mut deploy,
        json!({
            "id": deploy_id(tag),
            // The workshop's platform runs containers on the agent's network: the app
            // listens on the PORT0 the agent hands it.
            "containerInfo": {
                "type": "DOCKER",
                "docker": { "image": image, "network": "HOST" },
            },
            // Apps read OT_ENV to know where they run; nothing else sets it.
            "env": { "OT_ENV": environment },
        }),
    );
    // Singularity 0.14 and later take `healthcheck: {uri}`; before, `healthcheckUri`.
    if deploy.get("healthcheck").is_none() {
        fill(&mut deploy, json!({ "healthcheckUri": "/health" }));
    }
    deploy
}

/// A new deploy id for `tag`: Singularity allows letters, digits, `_` and `.`, under 50
/// characters, and each deploy of a request needs its own. So: the tag (other characters
/// replaced by `_`, at most 31 of them), `_`, and 12 random hex digits.
fn deploy_id(tag: &str) -> String {
    let tag: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(31)
        .collect();
    let unique = uuid::Uuid::new_v4().simple().to_string();
    format!("{tag}_{}", &unique[..12])
}

/// Adds to `target` each field of `defaults` it lacks, and recurses into the objects both
/// have (so `env.OT_ENV` joins the user's `env`).
fn fill(target: &mut Value, defaults: Value) {
    let (Value::Object(target), Value::Object(defaults)) = (target, defaults) else {
        return;
    };
    for (key, default) in defaults {
        match target.get_mut(&key) {
            Some(value) => fill(value, default),
            None => {
                target.insert(key, default);
            }
        }
    }
}

/// What a finished deploy means: `Ok` when it succeeded, else the state, Singularity's
/// message, one line per task that failed, and the likely cause when it is the health check.
pub fn outcome(
    result: &DeployResult,
    request_id: &str,
    deploy_id: &str,
    image: &str,
) -> Result<(), Error> {
    if result.state == "SUCCEEDED" {
        println!("Deployed {image} to {request_id}");
        return Ok(());
    }
    let mut lines = vec![format!(
        "Deploy {deploy_id} of {request_id} ended {}{}",
        result.state,
        if result.message.is_empty() {
            String::new()
        } else {
            format!(": {}", result.message)
        }
    )];
    for failure in &result.failures {
        lines.push(format!(
            "  {} {}: {}",
            failure.reason, failure.task_id, failure.message
        ));
    }
    // Today's Singularity ends a deploy whose tasks never pass GET /health FAILED with
    // TASK_FAILED_HEALTH_CHECKS after its health-check time (55 s by default); the
    // workshop's (0.4.x) let it run into OVERDUE.
    let health = result.state == "OVERDUE"
        || result
            .failures
            .iter()
            .any(|f| f.reason == "TASK_FAILED_HEALTH_CHECKS");
    if health {
        lines.push(
            "Likely cause: the app never answered GET /health on its PORT0 with a 2xx in time \
             (the workshop's step 6; step 7 adds /health)"
                .into(),
        );
    }
    Err(Error::Deploy(lines.join("\n")))
}
