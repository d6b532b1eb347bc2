//! The repository's deploy settings: `config/ENV/singularity-request.json` (a partial
//! SingularityRequest), `config/ENV/singularity.json` (a partial SingularityDeploy) and
//! `docker-repo` (the image repository), read and checked before anything is sent.

use std::fs;

use serde_json::Value;

use crate::Error;

/// What `config/ENV/` and `docker-repo` say, checked.
pub struct Config {
    /// The request, posted as it is in the file.
    pub request: Value,
    /// The user's part of the deploy; the tool adds what is missing.
    pub deploy: Value,
    pub request_id: String,
    pub docker_repo: String,
    /// One message per `<...>` placeholder still in the files, naming the file and the field.
    pub placeholders: Vec<String>,
}

/// Reads and checks the settings of `environment`; `docker_repo` (from `-d`) replaces the
/// `docker-repo` file.
pub fn read(environment: &str, docker_repo: Option<&str>) -> Result<Config, Error> {
    let request_file = format!("config/{environment}/singularity-request.json");
    let deploy_file = format!("config/{environment}/singularity.json");
    let request = read_object(&request_file)?;
    let deploy = read_object(&deploy_file)?;
    let (docker_repo, repo_source) = match docker_repo {
        Some(repo) => (repo.trim().to_string(), "-d"),
        None => (read_docker_repo()?, "docker-repo"),
    };

    let Some(request_id) = request["id"].as_str().filter(|id| !id.is_empty()) else {
        return Err(invalid(
            &request_file,
            "\"id\" must be the request's name, e.g. \"hello-mesos-alice\"",
        ));
    };
    // Singularity's rule for request ids (`SingularityValidator`); a placeholder is
    // reported on its own below.
    let valid_id = request_id.len() <= 100
        && request_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_id && placeholder_in(request_id).is_none() {
        return Err(invalid(
            &request_file,
            &format!(
                "\"id\" {request_id:?} is not a request id Singularity accepts: letters, digits, \
                 _ and - only, at most 100 characters"
            ),
        ));
    }
    match &deploy["requestId"] {
        Value::String(id) if id == request_id => {}
        Value::Null => {
            return Err(invalid(
                &deploy_file,
                &format!("\"requestId\" missing: set it to the request's id {request_id:?}"),
            ));
        }
        other => {
            return Err(invalid(
                &deploy_file,
                &format!(
                    "\"requestId\" is {other} but {request_file} has \"id\": {request_id:?}; \
                     they must be equal"
                ),
            ));
        }
    }
    // Singularity hands the task its ports as PORT0, PORT1...: the app needs PORT0.
    let ports = &deploy["resources"]["numPorts"];
    if ports.as_u64().is_none_or(|n| n == 0) {
        return Err(invalid(
            &deploy_file,
            &format!(
                "\"resources.numPorts\" must be at least 1 (the app listens on PORT0), not {ports}"
            ),
        ));
    }
    if !matches!(deploy["env"], Value::Null | Value::Object(_)) {
        return Err(invalid(
            &deploy_file,
            "\"env\" must be an object of strings",
        ));
    }

    let mut placeholders = Vec::new();
    find_placeholders(&request, &request_file, "", &mut placeholders);
    find_placeholders(&deploy, &deploy_file, "", &mut placeholders);
    if let Some(placeholder) = placeholder_in(&docker_repo) {
        placeholders.push(format!(
            "{repo_source} still holds the placeholder {placeholder}"
        ));
    }

    Ok(Config {
        request_id: request_id.to_string(),
        request,
        deploy,
        docker_repo,
        placeholders,
    })
}

/// A JSON file holding an object; errors name the file (and serde_json gives line and column).
fn read_object(file: &str) -> Result<Value, Error> {
    let text = fs::read_to_string(file).map_err(|err| {
        // The paths are relative: the usual cause is running from elsewhere.
        invalid(
            file,
            &format!("{err} (run otpl-deploy from the repository root)"),
        )
    })?;
    match serde_json::from_str(&text) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(other) => Err(invalid(
            file,
            &format!("expected a JSON object, found {other}"),
        )),
        Err(err) => Err(invalid(file, &format!("invalid JSON: {err}"))),
    }
}

/// The image repository in `docker-repo`: one line, e.g. `alice/hello-mesos`.
fn read_docker_repo() -> Result<String, Error> {
    let file = "docker-repo";
    let text = fs::read_to_string(file).map_err(|err| {
        invalid(
            file,
            &format!("{err} (or give the repository with -d REPO)"),
        )
    })?;
    let repo = text.trim();
    if repo.is_empty() || repo.contains(char::is_whitespace) {
        return Err(invalid(
            file,
            &format!("expected one image repository, e.g. alice/hello-mesos, found {repo:?}"),
        ));
    }
    Ok(repo.to_string())
}

fn invalid(file: &str, problem: &str) -> Error {
    Error::Config(format!("{file}: {problem}"))
}

/// Adds a message for every string in `value` that still holds a `<...>` placeholder,
/// naming the field as a path: `owners[0]`, `env.SERVICE_TYPE`.
fn find_placeholders(value: &Value, file: &str, field: &str, found: &mut Vec<String>) {
    match value {
        Value::String(text) => {
            if let Some(placeholder) = placeholder_in(text) {
                found.push(format!(
                    "{file}: \"{field}\" still holds the placeholder {placeholder}"
                ));
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                find_placeholders(item, file, &format!("{field}[{index}]"), found);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                let path = if field.is_empty() {
                    key.clone()
                } else {
                    format!("{field}.{key}")
                };
                find_placeholders(item, file, &path, found);
            }
        }
        _ => {}
    }
}

/// The first `<word>` in `text` (letters, digits, `_` and `-` between angle brackets).
fn placeholder_in(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'));
        if let Some(end) = end
            && end > 0
            && after[end..].starts_with('>')
        {
            return Some(&rest[start..start + end + 2]);
        }
        rest = after;
    }
    None
}
