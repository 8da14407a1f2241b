//! Integer fields that also take whole numbers written as floats (`68.0`).
//!
//! The API's schemas say `"type": "integer"`, and in JSON Schema (the dialect of OpenAPI 3.1)
//! `68.0` is an integer: a number whose fractional part is zero. Clients that compute a
//! number (Python's `json`, JavaScript after arithmetic) may write one so; serde's integer
//! types would refuse it. These functions, used with `#[serde(deserialize_with = ...)]`,
//! accept any whole number in the target type's range and refuse fractions, out-of-range
//! values and non-numbers with serde's usual message.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// The largest magnitude a float can hold while still naming one integer exactly (2^53).
const MAX_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;

struct Whole<T>(PhantomData<T>);

impl<'de, T> Visitor<'de> for Whole<T>
where
    T: TryFrom<i64> + TryFrom<u64>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a whole number from {}", std::any::type_name::<T>())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        let whole = v.is_finite() && v.fract() == 0.0 && v.abs() <= MAX_EXACT_FLOAT;
        if !whole {
            return Err(E::invalid_type(de::Unexpected::Float(v), &self));
        }
        // Exact: a whole float within 2^53 converts to i64 without loss.
        #[allow(clippy::cast_possible_truncation)]
        let n = v as i64;
        T::try_from(n).map_err(|_| E::invalid_value(de::Unexpected::Float(v), &self))
    }
}

/// A whole number into `T`.
pub fn number<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    deserializer.deserialize_any(Whole(PhantomData))
}

/// An optional whole number (`null` or absent: `None`, with `#[serde(default)]`).
pub fn option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    struct Optional<T>(PhantomData<T>);
    impl<'de, T: TryFrom<i64> + TryFrom<u64>> Visitor<'de> for Optional<T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "null or a whole number")
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<T>, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
            number(d).map(Some)
        }
    }
    deserializer.deserialize_option(Optional(PhantomData))
}

struct WholeMap<T>(PhantomData<T>);

impl<'de, T: TryFrom<i64> + TryFrom<u64>> Visitor<'de> for WholeMap<T> {
    type Value = BTreeMap<String, T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object of whole numbers")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut map = BTreeMap::new();
        while let Some(key) = access.next_key::<String>()? {
            let value = access.next_value_seed(Seed::<T>(PhantomData))?;
            map.insert(key, value);
        }
        Ok(map)
    }
}

struct Seed<T>(PhantomData<T>);

impl<'de, T: TryFrom<i64> + TryFrom<u64>> de::DeserializeSeed<'de> for Seed<T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        number(d)
    }
}

/// An object whose values are whole numbers.
pub fn map<'de, D, T>(deserializer: D) -> Result<BTreeMap<String, T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    deserializer.deserialize_map(WholeMap(PhantomData))
}

/// An optional object whose values are whole numbers.
pub fn option_map<'de, D, T>(deserializer: D) -> Result<Option<BTreeMap<String, T>>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64>,
{
    struct Optional<T>(PhantomData<T>);
    impl<'de, T: TryFrom<i64> + TryFrom<u64>> Visitor<'de> for Optional<T> {
        type Value = Option<BTreeMap<String, T>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "null or an object of whole numbers")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            map(d).map(Some)
        }
    }
    deserializer.deserialize_option(Optional(PhantomData))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "super::number")]
        days: u32,
        #[serde(default, deserialize_with = "super::option")]
        limit: Option<i64>,
        #[serde(default, deserialize_with = "super::map")]
        features: BTreeMap<String, i64>,
        #[serde(default, deserialize_with = "super::option_map")]
        more: Option<BTreeMap<String, i64>>,
    }

    fn parse(text: &str) -> Result<Body, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn whole_floats_are_integers() {
        let body = parse(
            r#"{"days": 68.0, "limit": -3.0, "features": {"a": 871.0, "b": 2}, "more": {"c": 1e3}}"#,
        )
        .unwrap();
        assert_eq!(body.days, 68);
        assert_eq!(body.limit, Some(-3));
        assert_eq!(body.features["a"], 871);
        assert_eq!(body.features["b"], 2);
        assert_eq!(body.more.unwrap()["c"], 1000);
        let body = parse(r#"{"days": 7, "limit": null, "more": null}"#).unwrap();
        assert_eq!((body.days, body.limit, body.more), (7, None, None));
        assert_eq!(parse(r#"{"days": 1}"#).unwrap().limit, None);
    }

    #[test]
    fn fractions_ranges_and_other_types_are_refused() {
        for text in [
            r#"{"days": 1.5}"#,
            r#"{"days": -1}"#,
            r#"{"days": -1.0}"#,
            r#"{"days": 4294967296}"#,
            r#"{"days": 4294967296.0}"#,
            r#"{"days": 1e300}"#,
            r#"{"days": "7"}"#,
            r#"{"days": true}"#,
            r#"{"days": null}"#,
            r#"{"days": 1, "limit": 0.25}"#,
            r#"{"days": 1, "limit": 9007199254740994.0}"#,
            r#"{"days": 1, "features": {"a": 0.5}}"#,
            r#"{"days": 1, "features": []}"#,
            r#"{"days": 1, "more": {"a": "1"}}"#,
        ] {
            assert!(parse(text).is_err(), "{text} was accepted");
        }
    }
}
