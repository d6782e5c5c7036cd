//! The machine-readable reports are serde_json values, built with a small chaining helper so
//! a report reads as its list of fields: `json::obj().with("requests", n).with("rps", r)`.
//! Field order is kept as written (serde_json's `preserve_order`), and a NaN or infinite
//! figure becomes `null` (JSON has neither).

pub use serde_json::Value as Json;

/// An empty object.
pub fn obj() -> Json {
    Json::Object(serde_json::Map::new())
}

/// `.with(key, value)` on an object.
pub trait With {
    /// Adds `key: value` to an object (no-op on other values); chains.
    fn with(self, key: &str, value: impl Into<Json>) -> Json;
}

impl With for Json {
    fn with(mut self, key: &str, value: impl Into<Json>) -> Json {
        if let Json::Object(fields) = &mut self {
            fields.insert(key.to_string(), value.into());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_field_order_escapes_and_nulls_nan() {
        let j = obj()
            .with("b", 1u64)
            .with("a", 0.5)
            .with("s", "q\"\n")
            .with("n", f64::NAN)
            .with("l", vec![true, false]);
        assert_eq!(
            j.to_string(),
            r#"{"b":1,"a":0.5,"s":"q\"\n","n":null,"l":[true,false]}"#
        );
    }
}
