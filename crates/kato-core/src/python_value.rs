//! Python's `str()` of a JSON value as Python's `json` module would have parsed it: how the
//! reference turns metadata values into the strings it stores (`str(True)` is `True`,
//! `str(45.67)` is `45.67`, `str(None)` is `None`, lists and dicts print as their `repr`).
//!
//! Mapping from JSON: string -> the text itself at the top level and its `repr` inside a
//! container; `true`/`false` -> `True`/`False`; `null` -> `None`; an integer -> its digits; any
//! other number -> Python's float `repr` (shortest round-trip digits, positional for exponents
//! -4..16, else `1e+16` style); array -> `[a, b]`; object -> `{'k': v}` in the order the keys
//! came (serde_json's `preserve_order`). Integers beyond the 64-bit range arrive as floats
//! (Python would keep them exact); that is the one known difference.

use serde_json::Value;

use crate::python_repr::write_str_repr;

/// Python's `str(value)`.
pub fn python_str(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => {
            let mut out = String::new();
            write_repr(other, &mut out);
            out
        }
    }
}

fn write_repr(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(int), _, _) => out.push_str(&int.to_string()),
            (None, Some(int), _) => out.push_str(&int.to_string()),
            (None, None, Some(float)) => out.push_str(&python_float_repr(float)),
            (None, None, None) => out.push_str(&number.to_string()),
        },
        Value::String(text) => write_str_repr(text, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_repr(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str_repr(key, out);
                out.push_str(": ");
                write_repr(item, out);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(float)`: the shortest digits that round-trip, positional when the decimal
/// exponent is in -4..16, scientific (`1.5e+16`, `1e-05`) otherwise.
pub fn python_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_owned();
    }
    // Rust's `{:e}` gives the same shortest round-trip digits Python's repr uses.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if value < 0.0 { "-" } else { "" };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        let before_point = exponent + 1;
        let body = if before_point <= 0 {
            format!(
                "0.{}{digits}",
                "0".repeat(before_point.unsigned_abs() as usize)
            )
        } else {
            let before_point = before_point as usize;
            if before_point >= digits.len() {
                format!("{digits}{}.0", "0".repeat(before_point - digits.len()))
            } else {
                format!("{}.{}", &digits[..before_point], &digits[before_point..])
            }
        };
        format!("{sign}{body}")
    } else {
        let mantissa = if digits.len() == 1 {
            digits
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{sign}{mantissa}e{exponent_sign}{:02}",
            exponent.unsigned_abs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_repr() {
        // Each right-hand side is what CPython's repr() prints.
        for (value, text) in [
            (45.67, "45.67"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (100.0, "100.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (1e300, "1e+300"),
            (0.1 + 0.2, "0.30000000000000004"),
            (-0.0, "-0.0"),
            (5e-324, "5e-324"),
        ] {
            assert_eq!(python_float_repr(value), text, "{value:e}");
        }
    }

    #[test]
    fn values_print_as_python_str() {
        let cases = [
            (r#""plain text""#, "plain text"),
            ("true", "True"),
            ("false", "False"),
            ("null", "None"),
            ("123", "123"),
            ("-7", "-7"),
            ("45.67", "45.67"),
            ("1.0", "1.0"),
            (r#"[1, 2]"#, "[1, 2]"),
            (r#"{"k": "v"}"#, "{'k': 'v'}"),
            (
                r#"["it's", true, null, 1.5]"#,
                r#"["it's", True, None, 1.5]"#,
            ),
            (r#"{"z": 1, "a": [{}, []]}"#, "{'z': 1, 'a': [{}, []]}"),
        ];
        for (json, text) in cases {
            let value: Value = serde_json::from_str(json).unwrap();
            assert_eq!(python_str(&value), text, "{json}");
        }
    }
}
