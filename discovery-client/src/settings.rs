//! Where to announce and what, read from the environment.

use std::{env, fmt, net::IpAddr, time::Duration};

use hyper::http::uri::Authority;

use crate::http::address_of;

/// The heartbeat's period when `DISCOVERY_HEARTBEAT_MS` is not set: the protocol's 10 s.
const HEARTBEAT: Duration = Duration::from_secs(10);

/// Where to announce and what: read by [`Settings::from_env`], used by
/// [`start_announcing`](crate::start_announcing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The seed host, `host[:port]`: its `/watch` lists the discovery servers.
    pub(crate) host: String,
    pub(crate) service_type: String,
    /// Our home region, e.g. `pp-sf`: the value of `OT_ENV`.
    pub(crate) environment: String,
    pub(crate) heartbeat: Duration,
}

impl Settings {
    /// Reads the settings from the environment:
    ///
    /// | variable | meaning |
    /// |---|---|
    /// | `OT_ENV` | the environment, e.g. `pp-sf`; unset, empty or `development`: development mode |
    /// | `DISCOVERY_HOST` | the seed host, `host[:port]`; required outside development mode |
    /// | `SERVICE_TYPE` | the type announced, `hello-mesos` if unset |
    /// | `DISCOVERY_HEARTBEAT_MS` | the heartbeat's period, 10000 if unset |
    /// | `TASK_HOST` | refused if unspecified (`0.0.0.0`, `::`): others could not reach it |
    ///
    /// `Ok(None)` in development mode, because a service running on a laptop must never be
    /// announced: nothing else is read then. An [`Error`] names the variable at fault; it
    /// displays as one line, such as `DISCOVERY_HOST not set`.
    pub fn from_env() -> Result<Option<Settings>, Error> {
        Settings::from_vars(|name| env::var(name).ok())
    }

    /// [`Settings::from_env`], with the variables looked up by `var` instead: unset and
    /// empty both mean "not given".
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Settings>, Error> {
        let non_empty = |name| var(name).filter(|value: &String| !value.is_empty());
        let environment = match non_empty("OT_ENV") {
            Some(name) if name != "development" => name,
            _ => return Ok(None),
        };
        let host = non_empty("DISCOVERY_HOST").ok_or(Error::DiscoveryHostNotSet)?;
        // The URLs are built around it, so it must be a bare host name or address and
        // an optional port: no scheme, no path.
        let bare = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:[]".contains(c));
        let authority: Option<Authority> = host.parse().ok();
        if !bare || authority.as_ref().and_then(address_of).is_none() {
            return Err(Error::DiscoveryHostInvalid(host));
        }
        // We announce TASK_HOST: "every address of this machine" would send others to themselves.
        let task_host = non_empty("TASK_HOST").unwrap_or_default();
        if task_host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_unspecified())
        {
            return Err(Error::TaskHostUnspecified(task_host));
        }
        let service_type = non_empty("SERVICE_TYPE").unwrap_or_else(|| "hello-mesos".into());
        let heartbeat = match non_empty("DISCOVERY_HEARTBEAT_MS") {
            None => HEARTBEAT,
            Some(ms) => ms
                .parse()
                .ok()
                .filter(|&ms| ms > 0)
                .map(Duration::from_millis)
                .ok_or(Error::HeartbeatInvalid(ms))?,
        };
        Ok(Some(Settings {
            host,
            service_type,
            environment,
            heartbeat,
        }))
    }
}

/// Why [`Settings::from_env`] cannot announce: a variable missing or wrong, with its value.
/// A service exits with code 3 on it, after printing it (one line).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `DISCOVERY_HOST` is unset or empty, outside development mode.
    DiscoveryHostNotSet,
    /// `DISCOVERY_HOST` is not a bare `host[:port]` (the value given).
    DiscoveryHostInvalid(String),
    /// `TASK_HOST` is an unspecified address (`0.0.0.0`, `::`), which no one else can reach.
    TaskHostUnspecified(String),
    /// `DISCOVERY_HEARTBEAT_MS` is not a positive whole number (the value given).
    HeartbeatInvalid(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::DiscoveryHostNotSet => write!(f, "DISCOVERY_HOST not set"),
            Error::DiscoveryHostInvalid(host) => {
                write!(f, "DISCOVERY_HOST is not a host[:port]: {host:?}")
            }
            Error::TaskHostUnspecified(task_host) => write!(
                f,
                "TASK_HOST {task_host} cannot be announced: set it to this machine's name or address"
            ),
            Error::HeartbeatInvalid(ms) => write!(
                f,
                "DISCOVERY_HEARTBEAT_MS is not a positive number of milliseconds: {ms:?}"
            ),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The settings read from exactly `vars`.
    fn read(vars: &[(&str, &str)]) -> Result<Option<Settings>, Error> {
        Settings::from_vars(|name| {
            let found = vars.iter().find(|(var, _)| *var == name);
            found.map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn development_mode_reads_nothing_else() {
        let nonsense = [("DISCOVERY_HOST", "http://x/"), ("TASK_HOST", "0.0.0.0")];
        for ot_env in [None, Some(""), Some("development")] {
            let mut vars = nonsense.to_vec();
            vars.extend(ot_env.map(|value| ("OT_ENV", value)));
            assert_eq!(read(&vars), Ok(None), "OT_ENV={ot_env:?}");
        }
    }

    #[test]
    fn defaults() {
        let settings = read(&[("OT_ENV", "pp-sf"), ("DISCOVERY_HOST", "[::1]:8090")]);
        let expected = Settings {
            host: "[::1]:8090".into(),
            service_type: "hello-mesos".into(),
            environment: "pp-sf".into(),
            heartbeat: HEARTBEAT,
        };
        assert_eq!(settings, Ok(Some(expected)));
    }

    #[test]
    fn each_error_names_its_variable() {
        let cases = [
            ("DISCOVERY_HOST", "", "DISCOVERY_HOST not set"),
            (
                "DISCOVERY_HOST",
                "discovery/watch",
                "DISCOVERY_HOST is not a host[:port]: \"discovery/watch\"",
            ),
            (
                "DISCOVERY_HOST",
                "host:99999",
                "DISCOVERY_HOST is not a host[:port]: \"host:99999\"",
            ),
            (
                "TASK_HOST",
                "::",
                "TASK_HOST :: cannot be announced: set it to this machine's name or address",
            ),
            (
                "DISCOVERY_HEARTBEAT_MS",
                "0",
                "DISCOVERY_HEARTBEAT_MS is not a positive number of milliseconds: \"0\"",
            ),
        ];
        for (name, value, message) in cases {
            let mut vars = vec![("OT_ENV", "pp-sf"), ("DISCOVERY_HOST", "discovery:8090")];
            vars.retain(|(var, _)| *var != name);
            vars.push((name, value));
            let error = read(&vars).expect_err(name);
            assert_eq!(error.to_string(), message, "{name}={value:?}");
        }
    }
}
