//! A headless Chromium driven as a learner would use it: open a page, look at what it shows,
//! click. It speaks the DevTools protocol over a pipe (`--remote-debugging-pipe`: JSON
//! messages ended by a NUL byte, on the browser's descriptors 3 and 4), so no WebDriver and
//! no WebSocket client are needed.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tempfile::TempDir;

/// How long the browser may take to answer one command.
const CALL_DEADLINE: Duration = Duration::from_secs(30);

/// Says why a test cannot run here; in CI (`CI=true`), where it must, fails instead.
pub fn skip(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the test cannot run: {reason}"
    );
    eprintln!("skipped: {reason}");
}

/// The headless browser to test the page in: `chromium` (Debian's package) or $CHROMIUM;
/// `None` (said through [`skip`]) when there is none.
pub fn chromium() -> Option<String> {
    let browser = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    match Command::new(&browser).arg("--version").output() {
        Ok(output) if output.status.success() => Some(browser),
        _ => {
            skip(&format!(
                "no browser: `{browser} --version` failed (apt-get install chromium)"
            ));
            None
        }
    }
}

/// The flags of a headless browser that talks to nothing but the page it is given.
pub const HEADLESS: [&str; 7] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

/// One tab of a headless browser, closed with the browser when dropped.
pub struct Tab {
    child: Child,
    commands: ChildStdin,
    messages: mpsc::Receiver<Value>,
    session: String,
    next_id: u64,
    _profile: TempDir,
}

impl Tab {
    /// Starts `browser` with a fresh profile and opens `url` in a tab.
    pub fn open(browser: &str, url: &str) -> Result<Tab, String> {
        let profile = TempDir::new().map_err(|err| format!("a profile: {err}"))?;
        // The protocol's pipe is the browser's descriptors 3 (in) and 4 (out): the shell
        // puts our stdin and stdout there.
        let mut child = Command::new("sh")
            .args([
                "-c",
                r#"exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>&2"#,
                browser,
            ])
            .args(HEADLESS)
            .arg("--remote-debugging-pipe")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("{browser}: {err}"))?;
        let commands = child.stdin.take().expect("piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let (sender, messages) = mpsc::channel();
        thread::spawn(move || {
            let mut message = Vec::new();
            while stdout.read_until(0, &mut message).is_ok_and(|n| n > 0) {
                message.pop_if(|byte| *byte == 0);
                if let Ok(value) = serde_json::from_slice(&message)
                    && sender.send(value).is_err()
                {
                    break;
                }
                message.clear();
            }
        });
        let mut tab = Tab {
            child,
            commands,
            messages,
            session: String::new(),
            next_id: 0,
            _profile: profile,
        };
        let target = tab.call("Target.createTarget", json!({ "url": url }))?;
        let attached = tab.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        )?;
        tab.session = attached["sessionId"]
            .as_str()
            .ok_or("no session id")?
            .to_string();
        Ok(tab)
    }

    /// Sends a command (to the tab once attached) and waits for its result.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            command["sessionId"] = json!(self.session);
        }
        let mut bytes = command.to_string().into_bytes();
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .map_err(|err| format!("{method}: the browser is gone ({err})"))?;
        let deadline = Instant::now() + CALL_DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .messages
                .recv_timeout(left)
                .map_err(|_| format!("{method}: no answer within {CALL_DEADLINE:?}"))?;
            if message["id"] != id {
                continue; // an event, or the answer to an earlier command
            }
            if let Some(error) = message.get("error") {
                return Err(format!("{method}: {error}"));
            }
            return Ok(message["result"].clone());
        }
    }

    /// The value of a JavaScript expression in the page (as DevTools evaluates it: the
    /// page's own Content-Security-Policy does not apply).
    pub fn evaluate(&mut self, expression: &str) -> Result<Value, String> {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        )?;
        if let Some(thrown) = result.get("exceptionDetails") {
            return Err(format!("{expression}: {thrown}"));
        }
        Ok(result["result"]["value"].clone())
    }

    /// Waits until `expression` is true in the page, at most `within`.
    pub fn wait_for(&mut self, expression: &str, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        while self.evaluate(expression)? != json!(true) {
            if Instant::now() > deadline {
                return Err(format!("{expression} still not true after {within:?}"));
            }
            thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// A left click at (`x`, `y`) in the page's viewport, as a mouse gives it.
    pub fn click(&mut self, x: f64, y: f64) -> Result<(), String> {
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            )?;
        }
        Ok(())
    }
}

impl Drop for Tab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
