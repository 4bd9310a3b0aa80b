//! A YAML value kept as a tree with a position on every node, for settings whose schema
//! belongs to an extension ([`crate::links`]) rather than to the structs of `raw.rs`.
//!
//! Scalars are kept as their text (`20ms`, `7`, `true`, `1.5`): the extension parses them,
//! so a bad value is reported at its own line and column, like every other value.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

/// One YAML value and where it is.
#[derive(Debug, Clone)]
pub struct Tree {
    /// The value.
    pub value: TreeValue,
    /// Where it starts in the file.
    pub at: Location,
}

/// What a [`Tree`] holds.
#[derive(Debug, Clone)]
pub enum TreeValue {
    /// `~`, `null` or nothing.
    Null,
    /// A scalar, as text.
    Scalar(String),
    /// A sequence.
    Seq(Vec<Tree>),
    /// A mapping, keys in file order (duplicates are already refused by the parser).
    Map(Vec<(Spanned<String>, Tree)>),
}

impl Tree {
    /// The scalar text, if this is a scalar.
    #[must_use]
    pub fn scalar(&self) -> Option<&str> {
        match &self.value {
            TreeValue::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    #[must_use]
    pub fn map(&self) -> Option<&[(Spanned<String>, Tree)]> {
        match &self.value {
            TreeValue::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value as written, for messages (scalars only; `None` for collections).
    #[must_use]
    pub fn text(&self) -> Option<String> {
        self.scalar().map(str::to_owned)
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = Spanned::<TreeValue>::deserialize(deserializer)?;
        Ok(Tree {
            value: s.value,
            at: s.referenced,
        })
    }
}

impl<'de> Deserialize<'de> for TreeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TreeValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a YAML value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<TreeValue, E> {
                Ok(TreeValue::Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<TreeValue, E> {
                Ok(TreeValue::Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<TreeValue, E> {
                Ok(TreeValue::Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<TreeValue, E> {
                Ok(TreeValue::Scalar(v.to_string()))
            }
            fn visit_str<E>(self, v: &str) -> Result<TreeValue, E> {
                Ok(TreeValue::Scalar(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<TreeValue, E> {
                Ok(TreeValue::Scalar(v))
            }
            fn visit_unit<E>(self) -> Result<TreeValue, E> {
                Ok(TreeValue::Null)
            }
            fn visit_none<E>(self) -> Result<TreeValue, E> {
                Ok(TreeValue::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TreeValue, A::Error> {
                let mut items = Vec::new();
                while let Some(t) = seq.next_element::<Tree>()? {
                    items.push(t);
                }
                Ok(TreeValue::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TreeValue, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = map.next_key::<Spanned<String>>()? {
                    let v = map.next_value::<Tree>()?;
                    entries.push((k, v));
                }
                Ok(TreeValue::Map(entries))
            }
        }
        deserializer.deserialize_any(V)
    }
}
