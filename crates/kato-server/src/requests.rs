//! Request bodies and query strings, with the coercions the reference's pydantic models
//! apply: numbers may come as integers, booleans or numeric strings; `null` is refused.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

/// A finite float, also accepted as an integer, a boolean or a numeric string.
#[derive(Debug, Clone, Copy, PartialEq, ToSchema)]
#[schema(value_type = f64)]
pub(crate) struct Float(pub(crate) f64);

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FloatVisitor;

        impl Visitor<'_> for FloatVisitor {
            type Value = Float;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a finite number")
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Float, E> {
                if v.is_finite() {
                    Ok(Float(v))
                } else {
                    Err(E::custom("expected a finite number"))
                }
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Float, E> {
                Ok(Float(v as f64))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Float, E> {
                Ok(Float(v as f64))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Float, E> {
                Ok(Float(if v { 1.0 } else { 0.0 }))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Float, E> {
                let parsed: f64 = v
                    .trim()
                    .parse()
                    .map_err(|_| E::custom(format!("{v:?} is not a number")))?;
                self.visit_f64(parsed)
            }
        }

        deserializer.deserialize_any(FloatVisitor)
    }
}

/// An integer, also accepted as an integral float or an integer string (pydantic's lax mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(value_type = i64)]
pub(crate) struct Int(pub(crate) i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor;

        impl Visitor<'_> for IntVisitor {
            type Value = Int;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int, E> {
                if v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(Int(v as i64))
                } else {
                    Err(E::custom(format!("{v} is not an integer")))
                }
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int, E> {
                v.trim()
                    .parse()
                    .map(Int)
                    .map_err(|_| E::custom(format!("{v:?} is not an integer")))
            }
        }

        deserializer.deserialize_any(IntVisitor)
    }
}

/// A boolean, also accepted as 0/1 or as the strings pydantic's lax mode takes (`"true"`,
/// `"yes"`, `"on"`, `"1"`, ... and their negatives).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ToSchema)]
#[schema(value_type = bool)]
pub(crate) struct Bool(pub(crate) bool);

impl<'de> Deserialize<'de> for Bool {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BoolVisitor;

        impl Visitor<'_> for BoolVisitor {
            type Value = Bool;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean")
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Bool, E> {
                Ok(Bool(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bool, E> {
                match v {
                    0 => Ok(Bool(false)),
                    1 => Ok(Bool(true)),
                    _ => Err(E::custom(format!("{v} is not a boolean"))),
                }
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bool, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bool, E> {
                match v.trim().to_ascii_lowercase().as_str() {
                    "1" | "on" | "t" | "true" | "y" | "yes" => Ok(Bool(true)),
                    "0" | "off" | "f" | "false" | "n" | "no" => Ok(Bool(false)),
                    _ => Err(E::custom(format!("{v:?} is not a boolean"))),
                }
            }
        }

        deserializer.deserialize_any(BoolVisitor)
    }
}

/// `POST /sessions`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CreateSession {
    /// The node (tenant) the session learns into and predicts from.
    pub(crate) node_id: String,
    /// Free client metadata kept with the session.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub(crate) metadata: Option<Map<String, Value>>,
    /// Sliding TTL in seconds; the server's `SESSION_TTL` when absent or 0.
    #[serde(default)]
    pub(crate) ttl_seconds: Option<Int>,
    /// Configuration overrides (section 6.1 keys).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub(crate) config: Option<Map<String, Value>>,
}

/// One observation.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub(crate) struct ObservationData {
    /// String symbols of the event.
    #[serde(default)]
    pub(crate) strings: Vec<String>,
    /// Vectors, summed into one `VCTR|` symbol.
    #[serde(default)]
    pub(crate) vectors: Vec<Vec<Float>>,
    /// Emotive values.
    #[serde(default)]
    pub(crate) emotives: BTreeMap<String, Float>,
    /// Free metadata.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub(crate) metadata: Map<String, Value>,
    /// The observation's id (observe-sequence only; `observe` assigns one).
    #[serde(default)]
    pub(crate) unique_id: Option<String>,
}

impl ObservationData {
    /// kato-core's observation and the metadata, which stays a JSON object: the session
    /// accumulates it for the learn path.
    pub(crate) fn into_parts(self) -> (kato_core::Observation, Map<String, Value>) {
        let observation = kato_core::Observation {
            strings: self.strings,
            vectors: self
                .vectors
                .into_iter()
                .map(|vector| vector.into_iter().map(|value| value.0).collect())
                .collect(),
            emotives: self
                .emotives
                .into_iter()
                .map(|(key, value)| (key, value.0))
                .collect(),
            metadata: BTreeMap::new(),
        };
        (observation, self.metadata)
    }
}

/// `POST /sessions/{id}/observe-sequence`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ObserveSequence {
    /// The observations, in order.
    pub(crate) observations: Vec<ObservationData>,
    /// Learn the STM after each observation.
    #[serde(default)]
    pub(crate) learn_after_each: Bool,
    /// Learn the STM after the last observation.
    #[serde(default)]
    pub(crate) learn_at_end: Bool,
    /// Start every observation after the first from an empty STM.
    #[serde(default)]
    pub(crate) clear_stm_between: Bool,
}

/// `POST /sessions/{id}/learn-sequences`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct LearnSequences {
    /// Sequences of events (each a list of string symbols), each learned as one pattern.
    pub(crate) sequences: Vec<Vec<Vec<String>>>,
}

/// `POST /sessions/{id}/extend`.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ExtendQuery {
    /// New TTL in seconds (default 3600).
    pub(crate) ttl_seconds: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emotives_accept_what_pydantic_coerces() {
        let observation: ObservationData = serde_json::from_value(serde_json::json!({
            "emotives": {"a": 1, "b": true, "c": "0.5", "d": 0.25}
        }))
        .unwrap();
        let values = observation.into_parts().0.emotives;
        assert_eq!(values["a"], 1.0);
        assert_eq!(values["b"], 1.0);
        assert_eq!(values["c"], 0.5);
        assert_eq!(values["d"], 0.25);
    }

    #[test]
    fn null_and_non_numbers_are_refused() {
        for emotives in [
            serde_json::json!({"a": null}),
            serde_json::json!({"a": "x"}),
            serde_json::json!({"a": "nan"}),
            serde_json::json!({"a": [1]}),
        ] {
            let result = serde_json::from_value::<ObservationData>(
                serde_json::json!({"emotives": emotives}),
            );
            assert!(result.is_err(), "{emotives} was accepted");
        }
        assert!(
            serde_json::from_value::<ObservationData>(serde_json::json!({"strings": null}))
                .is_err()
        );
        assert!(
            serde_json::from_value::<ObservationData>(serde_json::json!({"strings": [1]})).is_err()
        );
    }
}
