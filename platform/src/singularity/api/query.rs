//! Query parameters as Jersey hands them to a resource: by name, a name that repeats giving a
//! list, a value that cannot be converted to the parameter's type answered with a 404.

use std::str::FromStr;

use axum::{extract::RawQuery, http::StatusCode};

use super::{Refusal, dropwizard};

/// The query's parameters, in order.
pub(in crate::singularity) struct Params(Vec<(String, String)>);

impl Params {
    pub fn of(RawQuery(query): RawQuery) -> Params {
        let query = query.unwrap_or_default();
        Params(
            form_urlencoded::parse(query.as_bytes())
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, as text.
    pub fn text<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }

    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        (self.0.iter())
            .filter(move |(n, _)| n == name)
            .map(|(_, value)| value.as_str())
    }

    /// The first value of `name` as a `T`; one that is not is Jersey's 404.
    pub fn number<T: FromStr>(&self, name: &str) -> Result<Option<T>, Refusal> {
        self.text(name)
            .map(|text| text.parse::<T>().map_err(|_| unconvertible()))
            .transpose()
    }
}

/// What Jersey answers for a parameter it cannot convert (a `NotFoundException`).
pub(in crate::singularity) fn unconvertible() -> Refusal {
    dropwizard(StatusCode::NOT_FOUND, "HTTP 404 Not Found")
}
