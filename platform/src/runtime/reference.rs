//! Docker's grammar of an image reference (`[REGISTRY/]PATH[:TAG][@DIGEST]`, the
//! `distribution/reference` package that the Docker CLI parses `docker run`'s image with).
//! Written out here, not taken from a crate: no maintained crate parses it without bringing a
//! registry client along, and these rules are a screenful.
//!
//! Singularity takes any text as `containerInfo.docker.image`, and Mesos hands it to
//! `docker pull` and `docker run`, which fail a task whose image is not a reference. This
//! platform refuses such a deploy up front instead (see the validator): `--privileged` or
//! `--volume=/:/host` would otherwise be one more thing a command line might read as an option.

/// The parts of a valid reference.
#[derive(Debug, PartialEq, Eq)]
pub struct Reference<'a> {
    /// The registry, `host[:port]`, when the first part names one.
    pub registry: Option<&'a str>,
    /// The repository's path: `alice/hello-mesos`.
    pub path: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// The longest name (registry and path) Docker takes.
const NAME_MAX: usize = 255;

impl<'a> Reference<'a> {
    /// `text` as Docker reads it, or why Docker would refuse it.
    pub fn parse(text: &'a str) -> Result<Reference<'a>, &'static str> {
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (text, None),
        };
        if digest.is_some_and(|digest| !is_digest(digest)) {
            return Err("its digest is not ALGORITHM:HEX (at least 32 hex digits)");
        }
        // The tag is what follows a `:` in the last part (a registry's port has a `/` after it).
        let last_part = rest.rfind('/').map_or(0, |slash| slash + 1);
        let (name, tag) = match rest[last_part..].rfind(':') {
            Some(colon) => (
                &rest[..last_part + colon],
                Some(&rest[last_part + colon + 1..]),
            ),
            None => (rest, None),
        };
        if tag.is_some_and(|tag| !is_tag(tag)) {
            return Err(
                "its tag is not 1 to 128 letters, digits, `_`, `.` and `-`, starting with a letter, digit or `_`",
            );
        }
        if name.len() > NAME_MAX {
            return Err("its name is longer than 255 characters");
        }
        // As the Docker CLI splits a name: the first part is a registry when it has a `.` or
        // a `:`, is `localhost`, or has an upper-case letter.
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (Some(first), path)
            }
            _ => (None, name),
        };
        if registry.is_some_and(|registry| !is_registry(registry)) {
            return Err("its registry is not HOST[:PORT]");
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err("its repository name must be lowercase");
        }
        if !path.split('/').all(is_path_component) {
            return Err(
                "its repository name is not lowercase letters and digits in parts separated by `/`, \
                 each part joined by `.`, `_`, `__` or dashes (no leading `-`, no spaces)",
            );
        }
        if registry.is_none() && path.len() == 64 && path.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("it is 64 hexadecimal digits, which Docker keeps for image ids");
        }
        Ok(Reference {
            registry,
            path,
            tag,
            digest,
        })
    }
}

/// Whether a registry (`host[:port]`) is on this machine: `localhost`, 127.0.0.0/8 or `[::1]`,
/// to which Docker talks plain HTTP without being told to.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(bracketed) => bracketed.split_once(']').map_or("", |(v6, _)| v6),
        None => registry.split_once(':').map_or(registry, |(host, _)| host),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_path_component(part: &str) -> bool {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    // Letters and digits at both ends; between their runs, one separator: `.`, `_`, `__`
    // or dashes (anything else, a space or `/`, makes a separator of its own, refused).
    let mut separators = part.split(alphanumeric).filter(|run| !run.is_empty());
    part.starts_with(alphanumeric)
        && part.ends_with(alphanumeric)
        && separators.all(|s| matches!(s, "." | "_" | "__") || s.bytes().all(|b| b == b'-'))
}

/// `[\w][\w.-]{0,127}`
fn is_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    tag.len() <= 128
        && tag.starts_with(word)
        && tag.chars().all(|c| word(c) || c == '.' || c == '-')
}

/// `host[:port]`: dot-separated labels of letters, digits and inner dashes, or `[IPv6]`.
fn is_registry(registry: &str) -> bool {
    let (host_ok, port) = match registry.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((v6, rest)) => (
                !v6.is_empty() && v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':'),
                rest.strip_prefix(':').or(rest.is_empty().then_some("80")),
            ),
            None => (false, None),
        },
        None => {
            let (host, port) = registry.split_once(':').unwrap_or((registry, "80"));
            let label = |label: &str| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            };
            (host.split('.').all(label), Some(port))
        }
    };
    host_ok && port.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `ALGORITHM:HEX`: `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
pub fn is_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let component = |c: &str| {
        c.starts_with(|c: char| c.is_ascii_alphabetic())
            && c.chars().all(|c| c.is_ascii_alphanumeric())
    };
    algorithm.split(['-', '_', '+', '.']).all(component)
        && hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_on_this_machine_are_told_from_the_others() {
        for here in [
            "localhost:5001",
            "localhost",
            "127.0.0.1:5001",
            "127.1.2.3",
            "[::1]:5001",
        ] {
            assert!(is_loopback(here), "{here}");
        }
        for there in [
            "registry.example.com",
            "10.0.0.1:5000",
            "[::2]:5000",
            "localhost.example",
        ] {
            assert!(!is_loopback(there), "{there}");
        }
    }

    #[test]
    fn references_docker_takes_are_taken_with_their_parts() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let with_all = format!("localhost:5001/alice/hello-mesos:7@{digest}");
        assert_eq!(
            Reference::parse(&with_all),
            Ok(Reference {
                registry: Some("localhost:5001"),
                path: "alice/hello-mesos",
                tag: Some("7"),
                digest: Some(&digest),
            })
        );
        assert_eq!(
            Reference::parse("hello-mesos"),
            Ok(Reference {
                registry: None,
                path: "hello-mesos",
                tag: None,
                digest: None
            })
        );
        for taken in [
            "hello-mesos:7",
            "alice/hello-mesos:latest",
            "docker.otenv.com/alice/hello-mesos:12",
            "localhost/x",
            "127.0.0.1:5000/a_b/c__d/e---f.g:V1.2-rc_3",
            "[::1]:5000/x:y",
            "Registry.Example/x",
            "localhost:5000",
        ] {
            assert!(Reference::parse(taken).is_ok(), "{taken}");
        }
    }

    #[test]
    fn what_docker_would_read_as_an_option_or_refuse_is_refused() {
        for refused in [
            "",
            "--volume=/:/host",
            "--privileged",
            "-v",
            "hello mesos",
            "Hello-Mesos:7",
            "alice/Hello",
            "a//b",
            "a/",
            "-a/b",
            "a-/b",
            "a..b",
            "a___b",
            "x:",
            "x:-1",
            "x:.1",
            &format!("x:{}", "t".repeat(129)),
            "x@sha256:abc",
            "x@sha256",
            "-host.example/x",
            "host.example:port/x",
            "host..example/x",
            &"a".repeat(256),
            &"0".repeat(64),
            "x\u{1b}[2J",
        ] {
            assert!(Reference::parse(refused).is_err(), "{refused:?}");
        }
    }
}
