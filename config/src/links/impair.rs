//! `impair:` on a link: netem-style delay, jitter, loss, duplication, reordering and a rate
//! limit ([`nfv_functions::impair::Impair`]), the same in both directions or per direction.
//!
//! ```yaml
//! links:
//!   - { endpoints: [h1, sw:p1], impair: { delay: 20ms, jitter: 2ms, loss: 1%, rate: 10mbit, seed: 7 } }
//!   - endpoints: [h2, sw:p2]
//!     impair:
//!       a-to-b: { delay: 10ms }          # from the first endpoint to the second
//!       b-to-a: { loss: { p: 1%, r: 25% } }   # Gilbert-Elliott bursts
//!       seed: 3
//! ```
//!
//! Durations as switch `ageing`, plus `us`; probabilities as percentages (`0.5%`, up to
//! four decimals); `rate` in bits per second with tc's units (`bit`, `kbit`, `mbit`,
//! `gbit`) or bytes per second (`bps`, `kbps`, `mbps`, `gbps`, as tc means them);
//! `limit` frames held per direction (1..=65536, default 1000); `seed` any 64-bit number
//! (default 1), so the same file gives the same losses on every run.

use std::num::NonZeroU64;
use std::time::Duration;

use nfv_dataplane::Element;
use nfv_functions::impair::{
    DEFAULT_LIMIT, GilbertElliott, Impair as ImpairElement, ImpairConfig, ImpairSpec, LossModel,
    Ppm,
};

use super::{Fields, LinkAttribute, LinkElement, LinkSpec};
use crate::tree::Tree;
use crate::validate::Report;

/// Settings of one direction.
const DIRECTION_FIELDS: &[&str] = &[
    "delay",
    "jitter",
    "correlation",
    "loss",
    "duplicate",
    "reorder",
    "reorder-gap",
    "rate",
    "limit",
];

/// Most frames held per direction.
const MAX_LIMIT: u32 = 65_536;

/// Longest delay or jitter.
const MAX_DELAY: Duration = Duration::from_secs(60);

/// The `impair` link attribute.
pub(crate) struct Impair;

impl LinkAttribute for Impair {
    fn key(&self) -> &'static str {
        "impair"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[(
            "impair",
            "Link impairments: settings, frames held and next due, per direction.",
        )]
    }

    fn validate(&self, r: &mut Report<'_>, value: &Tree, path: &str) -> Option<LinkElement> {
        let mut known: Vec<&str> = DIRECTION_FIELDS.to_vec();
        known.extend(["a-to-b", "b-to-a", "seed"]);
        let f = Fields::of(r, value, path, &known)?;
        let errors = r.error_count();
        let seed = f
            .parse(r, path, "seed", |s| {
                s.parse::<u64>()
                    .map_err(|_| "expected a seed from 0 to 18446744073709551615".to_owned())
            })
            .unwrap_or(1);
        let per_direction = f.any(&["a-to-b", "b-to-a"]);
        let (a_to_b, b_to_a) = if per_direction {
            if let Some((k, _)) = value.map().and_then(|m| {
                m.iter()
                    .find(|(k, _)| DIRECTION_FIELDS.contains(&k.value.as_str()))
            }) {
                r.error(
                    &k.referenced,
                    &format!("{path}.{}", k.value),
                    None,
                    "with a-to-b or b-to-a, every setting goes under one of them".to_owned(),
                );
            }
            let dir = |r: &mut Report<'_>, name: &str| match f.get(name) {
                Some(t) => {
                    let p = format!("{path}.{name}");
                    Fields::of(r, t, &p, DIRECTION_FIELDS).map(|d| direction(r, &d, &p))
                }
                None => Some(ImpairSpec::default()),
            };
            (dir(r, "a-to-b")?, dir(r, "b-to-a")?)
        } else {
            let d = direction(r, &f, path);
            (d.clone(), d)
        };
        (r.error_count() == errors).then(|| {
            LinkElement::new(
                "impair",
                ImpairSettings(ImpairConfig {
                    a_to_b,
                    b_to_a,
                    seed,
                }),
            )
        })
    }
}

/// One direction's settings from `f` (problems reported; defaults where absent or bad).
fn direction(r: &mut Report<'_>, f: &Fields<'_>, path: &str) -> ImpairSpec {
    let d = ImpairSpec::default();
    let delay = f.parse(r, path, "delay", duration).unwrap_or(d.delay);
    let jitter = f.parse(r, path, "jitter", duration).unwrap_or(d.jitter);
    let loss = match f.get("loss") {
        Some(t) if t.map().is_some() => {
            gilbert_elliott(r, t, &format!("{path}.loss")).unwrap_or(d.loss)
        }
        _ => f
            .parse(r, path, "loss", percent)
            .map_or(d.loss, LossModel::Random),
    };
    let limit = f
        .parse(r, path, "limit", |s| match s.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(format!("expected a number of frames from 1 to {MAX_LIMIT}")),
        })
        .unwrap_or(DEFAULT_LIMIT);
    ImpairSpec {
        delay,
        jitter,
        correlation: f
            .parse(r, path, "correlation", percent)
            .unwrap_or(d.correlation),
        loss,
        duplicate: f
            .parse(r, path, "duplicate", percent)
            .unwrap_or(d.duplicate),
        reorder: f.parse(r, path, "reorder", percent).unwrap_or(d.reorder),
        reorder_gap: f
            .parse(r, path, "reorder-gap", |s| {
                s.parse::<u32>()
                    .map_err(|_| "expected a number of frames".to_owned())
            })
            .unwrap_or(d.reorder_gap),
        rate: f.parse(r, path, "rate", rate).map(Some).unwrap_or(d.rate),
        limit,
    }
}

/// `loss: { p: 1%, r: 25%, loss-bad: 100%, loss-good: 0% }`: netem's `gemodel p r 1-h 1-k`.
fn gilbert_elliott(r: &mut Report<'_>, t: &Tree, path: &str) -> Option<LossModel> {
    let f = Fields::of(r, t, path, &["p", "r", "loss-bad", "loss-good"])?;
    let need = |r: &mut Report<'_>, name: &str| {
        let v = f.parse(r, path, name, percent);
        if f.get(name).is_none() {
            r.error(
                &t.at,
                path,
                None,
                format!(
                    "a Gilbert-Elliott loss model needs {name} (the chance per frame of going {})",
                    if name == "p" {
                        "from the good state to the bad"
                    } else {
                        "from the bad state to the good"
                    }
                ),
            );
        }
        v
    };
    let p = need(r, "p");
    let rr = need(r, "r");
    let simple = GilbertElliott::simple(p?, rr?);
    Some(LossModel::GilbertElliott(GilbertElliott {
        loss_bad: f
            .parse(r, path, "loss-bad", percent)
            .unwrap_or(simple.loss_bad),
        loss_good: f
            .parse(r, path, "loss-good", percent)
            .unwrap_or(simple.loss_good),
        ..simple
    }))
}

/// `20ms`, `1s`, `500us` (at most a minute).
fn duration(s: &str) -> Result<Duration, String> {
    let d = match s.strip_suffix("us") {
        Some(n) => n.parse::<u64>().ok().map(Duration::from_micros),
        None => crate::types::parse_duration(s).ok(),
    };
    match d {
        Some(d) if d <= MAX_DELAY => Ok(d),
        Some(_) => Err("at most 60s".to_owned()),
        None => Err("invalid duration (expected a number with us, ms, s or m: 20ms)".to_owned()),
    }
}

/// `30%`, `0.5%`, `0.0001%` (a percentage with at most four decimals, 0..=100).
fn percent(s: &str) -> Result<Ppm, String> {
    crate::types::parse_percent(s).map(Ppm)
}

/// `10mbit` (bits per second: bit, kbit, mbit, gbit) or `1mbps` (bytes per second: bps,
/// kbps, mbps, gbps, as tc means them), as bytes per second. Decimal prefixes, as tc.
fn rate(s: &str) -> Result<NonZeroU64, String> {
    let bad =
        || "expected a rate such as 10mbit or 500kbit (bits/s), or 1mbps (bytes/s)".to_owned();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let (mult, bits) = match unit.to_ascii_lowercase().as_str() {
        "bit" => (1, true),
        "kbit" => (1_000, true),
        "mbit" => (1_000_000, true),
        "gbit" => (1_000_000_000, true),
        "bps" => (1, false),
        "kbps" => (1_000, false),
        "mbps" => (1_000_000, false),
        "gbps" => (1_000_000_000, false),
        _ => return Err(bad()),
    };
    let per_s = n.checked_mul(mult).ok_or_else(bad)?;
    let bytes = if bits { per_s / 8 } else { per_s };
    NonZeroU64::new(bytes).ok_or_else(|| "the rate must be at least 8bit (1 byte/s)".to_owned())
}

/// The validated settings of one `impair:`.
#[derive(Debug)]
struct ImpairSettings(ImpairConfig);

impl LinkSpec for ImpairSettings {
    fn element(&self) -> Box<dyn Element> {
        Box::new(ImpairElement::new(&self.0))
    }

    fn max_held(&self) -> usize {
        (self.0.a_to_b.limit + self.0.b_to_a.limit) as usize
    }

    fn summary(&self) -> String {
        let c = &self.0;
        if c.a_to_b == c.b_to_a {
            format!("impair {} (seed {})", spec_summary(&c.a_to_b), c.seed)
        } else {
            format!(
                "impair a-to-b {}; b-to-a {} (seed {})",
                spec_summary(&c.a_to_b),
                spec_summary(&c.b_to_a),
                c.seed
            )
        }
    }
}

/// `delay 20ms jitter 2ms loss random 1% rate 1250000B/s`, the settings that are not
/// their defaults (`none` if all are).
fn spec_summary(s: &ImpairSpec) -> String {
    let d = ImpairSpec::default();
    let mut p = Vec::new();
    if s.delay != d.delay {
        p.push(format!("delay {:?}", s.delay));
    }
    if s.jitter != d.jitter {
        p.push(format!("jitter {:?}", s.jitter));
    }
    if s.correlation != d.correlation {
        p.push(format!("correlation {}", s.correlation));
    }
    if s.loss != d.loss {
        p.push(format!("loss {}", s.loss));
    }
    if s.duplicate != d.duplicate {
        p.push(format!("duplicate {}", s.duplicate));
    }
    if s.reorder != d.reorder {
        p.push(format!(
            "reorder {} gap {}",
            s.reorder,
            s.reorder_gap.max(1)
        ));
    }
    if let Some(r) = s.rate {
        p.push(format!("rate {}bit/s", r.get() * 8));
    }
    if s.limit != d.limit {
        p.push(format!("limit {}", s.limit));
    }
    if p.is_empty() {
        "none".to_owned()
    } else {
        p.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_parse_to_parts_per_million() {
        assert_eq!(percent("30%"), Ok(Ppm(300_000)));
        assert_eq!(percent("0.5%"), Ok(Ppm(5_000)));
        assert_eq!(percent("0.0001%"), Ok(Ppm(1)));
        assert_eq!(percent("100%"), Ok(Ppm(1_000_000)));
        for bad in ["30", "101%", "0.00001%", "-1%", "%", "1.%x", "a%"] {
            assert!(percent(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_use_tc_units() {
        assert_eq!(rate("10mbit").map(NonZeroU64::get), Ok(1_250_000));
        assert_eq!(rate("500kbit").map(NonZeroU64::get), Ok(62_500));
        assert_eq!(rate("1mbps").map(NonZeroU64::get), Ok(1_000_000));
        assert_eq!(rate("8bit").map(NonZeroU64::get), Ok(1));
        for bad in ["7bit", "10", "10mb", "mbit", "99999999999999999999gbit"] {
            assert!(rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_accept_microseconds_and_refuse_over_a_minute() {
        assert_eq!(duration("500us"), Ok(Duration::from_micros(500)));
        assert_eq!(duration("20ms"), Ok(Duration::from_millis(20)));
        assert!(duration("2m").is_err());
        assert!(duration("fast").is_err());
    }
}
