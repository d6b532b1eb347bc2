//! The workshop's original app as its step 7 leaves it (`app.js` with hapi: `/`, `/health`,
//! `TASK_HOST` and `PORT0`, the signal handlers of step 4), run by Node.js with the hapi
//! major version the workshop used, installed with npm under the target directory.

use std::{fs, path::Path, process::Command};

use crate::{server::Server, tools};

/// The app, and the `package.json` that `npm install --save hapi` left (hapi 16: the last
/// major with the workshop's API, `server.connection` and `reply`, released in 2016, and the
/// only one of those that runs on a current Node.js: older ones call `os.tmpDir()`).
const FILES: [(&str, &str); 2] = [
    ("app.js", include_str!("../node/app.js")),
    ("package.json", include_str!("../node/package.json")),
];

/// What the app answers on `GET /`.
const HELLO_HAPI: &str = "Hello, HAPI.\n";

/// The app ready to start, and the versions of Node.js and hapi; or why it cannot run. `node`
/// is the Node.js to use; by default the one on the PATH, installed from Debian if missing.
pub fn prepare(node: Option<&Path>, target: &Path) -> Result<(Server, String), String> {
    let node = match node {
        Some(node) => node.to_path_buf(),
        None => tools::require("node", "nodejs")?,
    };
    let node_version =
        tools::version(&node, "--version").ok_or(format!("cannot run {}", node.display()))?;
    let dir = target.join("bench-node");
    fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
    let mut changed = false;
    for (name, text) in FILES {
        let path = dir.join(name);
        if fs::read_to_string(&path).ok().as_deref() != Some(text) {
            fs::write(&path, text).map_err(|err| format!("{}: {err}", path.display()))?;
            changed = true;
        }
    }
    let hapi = dir.join("node_modules/hapi/package.json");
    if changed || !hapi.is_file() {
        let mut npm = Command::new(tools::require("npm", "npm")?);
        npm.args(["install", "--no-audit", "--no-fund", "--no-package-lock"]);
        eprintln!("installing hapi into {} (npm install)", dir.display());
        tools::install(npm.current_dir(&dir))?;
    }
    let hapi_version = fs::read_to_string(&hapi)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|package| Some(package["version"].as_str()?.to_string()))
        .ok_or(format!("hapi is not installed in {}", dir.display()))?;
    let server = Server {
        name: "Node.js".into(),
        program: node.clone(),
        args: vec![dir.join("app.js").into()],
        hello: HELLO_HAPI,
        container: None,
    };
    let versions = format!("{} {node_version}, hapi {hapi_version}", node.display());
    Ok((server, versions))
}
