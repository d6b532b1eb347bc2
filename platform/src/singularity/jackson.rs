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
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct JavaDouble(pub f64);
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct JavaString(pub String);

fn coerced<'de, D: serde::Deserializer<'de>, T: std::str::FromStr>(
    deserializer: D,
    from_number: impl Fn(&serde_json::Number) -> Option<T>,
    from_text: impl Fn(&str) -> Option<T>,
) -> Result<T, D::Error> {
    let value = Value::deserialize(deserializer)?;
    match &value {
        Value::Number(number) => from_number(number),
        Value::String(text) => from_text(text),
        _ => None,
    }
    .ok_or_else(|| serde::de::Error::custom("not a number"))
}

/// A float read into an int or a long, as Jackson truncates it; `None` out of a long's range
/// (Jackson refuses it, where a cast would saturate).
fn whole_long(float: f64) -> Option<i64> {
    // 2^63 is the first float past i64::MAX.
    (float.is_finite()
        && float.trunc() >= i64::MIN as f64
        && float.trunc() < 9.223_372_036_854_776e18)
        .then(|| float.trunc() as i64)
}

impl<'de> Deserialize<'de> for JavaInt {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        coerced(
            deserializer,
            |n| {
                // Jackson truncates a float read into an int (`ACCEPT_FLOAT_AS_INT`).
                let whole = n.as_i64().or_else(|| n.as_f64().and_then(whole_long))?;
                i32::try_from(whole).ok()
            },
            |text| text.trim().parse().ok(),
        )
        .map(JavaInt)
    }
}

impl<'de> Deserialize<'de> for JavaLong {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        coerced(
            deserializer,
            |n| n.as_i64().or_else(|| n.as_f64().and_then(whole_long)),
            |text| text.trim().parse().ok(),
        )
        .map(JavaLong)
    }
}

impl<'de> Deserialize<'de> for JavaDouble {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        coerced(deserializer, serde_json::Number::as_f64, java_parse_double).map(JavaDouble)
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

/// A string read into a `double` as Jackson reads it: its names of the infinities and of
/// NaN (`Infinity`, `INF`, `-Infinity`, `-INF`, `NaN`), else `Double.parseDouble` (blanks
/// around, a sign, a `d` or `f` suffix). Rust's own names (`inf`, `nan`) are not Java's; nor
/// are hexadecimal doubles taken here, which Java would take.
fn java_parse_double(text: &str) -> Option<f64> {
    match text {
        "Infinity" | "INF" => return Some(f64::INFINITY),
        "-Infinity" | "-INF" => return Some(f64::NEG_INFINITY),
        "NaN" => return Some(f64::NAN),
        _ => {}
    }
    let text = text.trim_matches(|c| c <= ' ');
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, text.strip_prefix('+').unwrap_or(text)),
    };
    match unsigned {
        "Infinity" => Some(sign * f64::INFINITY),
        "NaN" => Some(f64::NAN),
        _ => {
            let number = unsigned
                .strip_suffix(['d', 'D', 'f', 'F'])
                .unwrap_or(unsigned);
            // Digits, a point and an exponent only: Rust would also read `inf` and `nan`.
            let decimal = number
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
            decimal
                .then(|| number.parse::<f64>().ok())
                .flatten()
                .map(|n| sign * n)
        }
    }
}

/// A `double` as Java's `String.valueOf` prints it in most cases: `100.0`, `0.5`,
/// `Infinity`, `NaN`.
pub(crate) fn java_double(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else if value != 0.0 && !(1e-3..1e7).contains(&value.abs()) {
        // Java's scientific form: `1.0E8`, `1.5E-4`.
        let scientific = format!("{value:e}");
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        match mantissa.contains('.') {
            true => format!("{mantissa}E{exponent}"),
            false => format!("{mantissa}.0E{exponent}"),
        }
    } else if value.fract() == 0.0 {
        format!("{value:.1}")
    } else {
        value.to_string()
    }
}

/// Jackson writes a `double` that is not finite as a string (`"NaN"`, `"Infinity"`): JSON has
/// no number for it.
impl Serialize for JavaDouble {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            serializer.serialize_f64(self.0)
        } else {
            serializer.serialize_str(&java_double(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_are_read_from_text_as_jackson_reads_them() {
        let read = |text: &str| java_parse_double(text);
        assert_eq!(read(" 0.5 "), Some(0.5));
        assert_eq!(read("+2d"), Some(2.0));
        assert_eq!(read("-1e3F"), Some(-1000.0));
        assert_eq!(read("Infinity"), Some(f64::INFINITY));
        assert_eq!(read("INF"), Some(f64::INFINITY));
        assert_eq!(read("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(read("NaN").is_some_and(f64::is_nan));
        for not_java in ["inf", "infinity", "nan", "NAN", "1x", "", "0x1p3"] {
            assert_eq!(read(not_java), None, "{not_java}");
        }
    }

    #[test]
    fn doubles_are_printed_as_java_prints_them() {
        assert_eq!(java_double(100.0), "100.0");
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(f64::INFINITY), "Infinity");
        assert_eq!(java_double(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(java_double(f64::NAN), "NaN");
        assert_eq!(java_double(1e8), "1.0E8");
        assert_eq!(java_double(-12345678.5), "-1.23456785E7");
        assert_eq!(java_double(1.5e-4), "1.5E-4");
        assert_eq!(java_double(0.001), "0.001");
        assert_eq!(java_double(9999999.0), "9999999.0");
        assert_eq!(java_double(0.0), "0.0");
    }
}
