//! Jackson's ways with JSON scalars, as Singularity's server reads and prints them: the
//! coercions its ObjectMapper applies when reading a field, and how Java prints a `double`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Jackson's scalar coercions (2.9, Singularity's): a `String` field takes a number or a
/// boolean as its text, a number field takes a string that parses. Each is written back as
/// the Java value it became.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub(crate) struct JavaInt(pub i32);
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub(crate) struct JavaLong(pub i64);
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub(crate) struct JavaDouble(pub f64);
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct JavaString(pub String);

fn coerced<'de, D: serde::Deserializer<'de>, T: std::str::FromStr>(
    deserializer: D,
    from_number: impl Fn(&serde_json::Number) -> Option<T>,
) -> Result<T, D::Error> {
    let value = Value::deserialize(deserializer)?;
    match &value {
        Value::Number(number) => from_number(number),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| serde::de::Error::custom("not a number"))
}

impl<'de> Deserialize<'de> for JavaInt {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        coerced(deserializer, |n| {
            // Jackson truncates a float read into an int (`ACCEPT_FLOAT_AS_INT`).
            let whole = n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f.trunc() as i64))?;
            i32::try_from(whole).ok()
        })
        .map(JavaInt)
    }
}

impl<'de> Deserialize<'de> for JavaLong {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        coerced(deserializer, |n| {
            n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64))
        })
        .map(JavaLong)
    }
}

impl<'de> Deserialize<'de> for JavaDouble {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        coerced(deserializer, serde_json::Number::as_f64).map(JavaDouble)
    }
}

impl<'de> Deserialize<'de> for JavaString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(JavaString(text)),
            Value::Number(number) => Ok(JavaString(number.to_string())),
            Value::Bool(flag) => Ok(JavaString(flag.to_string())),
            _ => Err(serde::de::Error::custom("not a string")),
        }
    }
}

/// A `double` as Java's `String.valueOf` prints it in most cases: `100.0`, `0.5`.
pub(crate) fn java_double(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e7 {
        format!("{value:.1}")
    } else {
        value.to_string()
    }
}
