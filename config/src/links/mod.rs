//! Elements a link carries: settings written as a key on a link (`impair: {...}`) that
//! insert an element between the link's two ends.
//!
//! One file per attribute, one line in [`LINK_ATTRIBUTES`]. An attribute parses its own
//! settings from a [`Tree`] (so its fields need no entry in `raw.rs`), validates them with
//! the same error format as every other field, and makes the element from the validated
//! settings ([`LinkSpec::element`]). The runtime inserts the elements generically: gate 0
//! of each faces the link's first endpoint (`a`), gate 1 its second (`b`).

use std::fmt;
use std::sync::{Arc, LazyLock};

use nfv_dataplane::Element;
use serde_saphyr::Spanned;

use crate::tree::{Tree, TreeValue};
use crate::validate::Report;

mod dhcp;
mod impair;

/// Every link attribute. Adding one is one line here and its own file.
pub(crate) static LINK_ATTRIBUTES: &[&dyn LinkAttribute] = &[&impair::Impair, &dhcp::Dhcp];

/// The keys a link accepts: `endpoints`, then every attribute's key (for the "unknown
/// field" message, which needs a `'static` list; built once).
pub(crate) fn link_fields() -> &'static [&'static str] {
    static FIELDS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        std::iter::once("endpoints")
            .chain(LINK_ATTRIBUTES.iter().map(|a| a.key()))
            .collect()
    });
    &FIELDS
}

/// The attribute written as `key`.
pub(crate) fn attribute(key: &str) -> Option<&'static dyn LinkAttribute> {
    LINK_ATTRIBUTES.iter().copied().find(|a| a.key() == key)
}

/// One kind of link attribute.
pub(crate) trait LinkAttribute: Sync {
    /// The key on a link (`impair`).
    fn key(&self) -> &'static str;

    /// Check the settings at `path`, reporting every problem to `r`; the validated element
    /// when there was none.
    fn validate(&self, r: &mut Report<'_>, value: &Tree, path: &str) -> Option<LinkElement>;

    /// Tables its element serves on the admin API: `(name, one line of help)`.
    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
}

/// Every table of every link attribute's element: `(name, help, attribute key)`.
pub fn link_tables() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    LINK_ATTRIBUTES
        .iter()
        .flat_map(|a| a.tables().iter().map(move |(t, h)| (*t, *h, a.key())))
}

/// A link element's validated settings: what the runtime needs to make and show it.
pub trait LinkSpec: fmt::Debug + Send + Sync {
    /// The element (gate 0 towards the link's first endpoint, gate 1 towards its second).
    fn element(&self) -> Box<dyn Element>;

    /// One line for the start-up log and `nfv graph` (`delay 20ms loss 1%`).
    fn summary(&self) -> String;

    /// Most packets the element may hold at once (the runtime adds that many buffers to
    /// the packet pool, so a full queue cannot starve the ports).
    fn max_held(&self) -> usize {
        0
    }
}

/// An element on a link, validated. Compared by its settings.
#[derive(Clone)]
pub struct LinkElement {
    /// The attribute key that made it (`impair`): also the element's kind.
    pub kind: &'static str,
    spec: Arc<dyn LinkSpec>,
}

impl LinkElement {
    /// Wrap validated settings.
    pub(crate) fn new(kind: &'static str, spec: impl LinkSpec + 'static) -> LinkElement {
        LinkElement {
            kind,
            spec: Arc::new(spec),
        }
    }

    /// The settings.
    #[must_use]
    pub fn spec(&self) -> &dyn LinkSpec {
        self.spec.as_ref()
    }
}

impl fmt::Debug for LinkElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}", self.kind, self.spec)
    }
}

impl PartialEq for LinkElement {
    fn eq(&self, other: &LinkElement) -> bool {
        self.kind == other.kind && format!("{:?}", self.spec) == format!("{:?}", other.spec)
    }
}

impl Eq for LinkElement {}

/// A mapping's fields, checked against the names an attribute knows: unknown and
/// misplaced keys are reported, known ones are looked up by name.
pub(crate) struct Fields<'t> {
    entries: &'t [(Spanned<String>, Tree)],
}

impl<'t> Fields<'t> {
    /// The fields of `value` at `path`, each name in `known`; `None` (reported) if `value`
    /// is not a mapping.
    pub(crate) fn of(
        r: &mut Report<'_>,
        value: &'t Tree,
        path: &str,
        known: &[&str],
    ) -> Option<Fields<'t>> {
        let Some(entries) = value.map() else {
            r.error(
                &value.at,
                path,
                value.text(),
                format!("expected a mapping with {}", known.join(", ")),
            );
            return None;
        };
        for (k, _) in entries {
            if !known.contains(&k.value.as_str()) {
                r.error(
                    &k.referenced,
                    &format!("{path}.{}", k.value),
                    None,
                    format!(
                        "unknown field {:?}, expected one of {}",
                        k.value,
                        known.join(", ")
                    ),
                );
                r.suggest(&k.value, known.iter().copied());
            }
        }
        Some(Fields { entries })
    }

    /// The field `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&'t Tree> {
        self.entries
            .iter()
            .find(|(k, _)| k.value == name)
            .map(|(_, v)| v)
    }

    /// True if any of `names` is given.
    pub(crate) fn any(&self, names: &[&str]) -> bool {
        names.iter().any(|n| self.get(n).is_some())
    }

    /// Parse the scalar field `name` with `parse` (whose error is the message); `None` if
    /// absent or bad (reported).
    pub(crate) fn parse<T>(
        &self,
        r: &mut Report<'_>,
        path: &str,
        name: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let v = self.get(name)?;
        let fpath = format!("{path}.{name}");
        match &v.value {
            TreeValue::Scalar(s) => match parse(s) {
                Ok(x) => Some(x),
                Err(msg) => {
                    r.error(&v.at, &fpath, Some(s.clone()), msg);
                    None
                }
            },
            _ => {
                r.error(&v.at, &fpath, None, "expected a single value".to_owned());
                None
            }
        }
    }
}
