//! Pattern names: `PTRN|` + the lowercase SHA-1 of Python's `repr` of the pattern's events.

use std::fmt;
use std::str::FromStr;

use crate::error::CoreError;
use crate::event::Event;
use crate::python_repr::write_nested_list_repr;
use crate::sha1_hex::{SHA1_HEX_LEN, sha1_lower_hex};

/// Prefix of a pattern name in the HTTP API; storage keeps the bare hex.
pub const PATTERN_NAME_PREFIX: &str = "PTRN|";

/// A pattern's identity: 40 lowercase hex digits of a SHA-1, shown as `PTRN|<hex>`.
///
/// Holds the bare hex (what storage keys and columns use); [`fmt::Display`] adds the `PTRN|`
/// prefix the API shows. Parsing accepts both forms and nothing else.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PatternName([u8; SHA1_HEX_LEN]);

impl PatternName {
    /// The name the reference gives to a pattern made of `events`: SHA-1 of the UTF-8 text of
    /// Python's `str(list_of_lists)`, e.g. `[['a', 'b'], ['c']]`. Only the events, in their stored
    /// order, matter.
    pub fn of_events(events: &[Event]) -> Self {
        let mut text = String::new();
        write_nested_list_repr(
            events
                .iter()
                .map(|event| event.iter().map(|symbol| symbol.as_str())),
            &mut text,
        );
        Self(sha1_lower_hex(text.as_bytes()))
    }

    /// The bare 40 lowercase hex digits, as stored.
    pub fn as_hex(&self) -> &str {
        // Only ASCII hex digits are ever stored (see `of_events` and `from_str`).
        std::str::from_utf8(&self.0).expect("pattern name holds ascii hex digits")
    }
}

impl fmt::Display for PatternName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(PATTERN_NAME_PREFIX)?;
        f.write_str(self.as_hex())
    }
}

impl fmt::Debug for PatternName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PatternName({self})")
    }
}

impl FromStr for PatternName {
    type Err = CoreError;

    /// Accepts `PTRN|<40 lowercase hex>` or the bare 40 hex digits.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let hex = text.strip_prefix(PATTERN_NAME_PREFIX).unwrap_or(text);
        let is_lower_hex = |byte: &u8| byte.is_ascii_digit() || (b'a'..=b'f').contains(byte);
        match <[u8; SHA1_HEX_LEN]>::try_from(hex.as_bytes()) {
            Ok(digits) if digits.iter().all(is_lower_hex) => Ok(Self(digits)),
            _ => Err(CoreError::InvalidPatternName {
                input: text.chars().take(100).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "7d0678ba6305341ce0d25133ab086208656a562f";

    #[test]
    fn parses_both_forms_and_displays_with_prefix() {
        let bare: PatternName = HEX.parse().unwrap();
        let prefixed: PatternName = format!("PTRN|{HEX}").parse().unwrap();
        assert_eq!(bare, prefixed);
        assert_eq!(bare.as_hex(), HEX);
        assert_eq!(bare.to_string(), format!("PTRN|{HEX}"));
        assert_eq!(format!("{bare:?}"), format!("PatternName(PTRN|{HEX})"));
    }

    #[test]
    fn rejects_everything_else() {
        let bad = [
            String::new(),
            "PTRN|".to_owned(),
            HEX[..39].to_owned(),
            format!("{HEX}0"),
            HEX.to_uppercase(),
            format!("ptrn|{HEX}"),
            format!("PTRN|PTRN|{HEX}"),
            format!(" {HEX}"),
            format!("VCTR|{HEX}"),
            "g".repeat(40),
            "é".repeat(20),
        ];
        for text in bad {
            let error = text.parse::<PatternName>().unwrap_err();
            assert!(
                matches!(&error, CoreError::InvalidPatternName { input } if *input == text),
                "{text:?} gave {error:?}"
            );
        }
    }

    #[test]
    fn rejected_input_is_cut_in_the_error() {
        let long = "x".repeat(1000);
        let CoreError::InvalidPatternName { input } = long.parse::<PatternName>().unwrap_err()
        else {
            panic!("wrong error variant");
        };
        assert_eq!(input.len(), 100);
    }
}
