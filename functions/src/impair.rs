//! Link impairment: delay, jitter, loss, duplication, reordering and a rate limit on a link,
//! each direction with its own settings — the packet logic of Linux netem (tc-netem(8)),
//! sans-IO and deterministic.
//!
//! # Gates
//! Two sides, `a` (gate 0) and `b` (gate 1), each with an input and an output gate of that
//! number. A frame that arrives on input 0 (`a`) leaves on output 1 (`b`), impaired by
//! [`ImpairConfig::a_to_b`]; a frame from input 1 (`b`) leaves on output 0 (`a`), impaired by
//! [`ImpairConfig::b_to_a`]. Wiring a link `A — B` through the element:
//!
//! ```text
//! A -> imp.0   imp.1 -> B      (a to b)
//! B -> imp.1   imp.0 -> A      (b to a)
//! ```
//!
//! A frame on any other input gate is a `bad_gate` drop.
//!
//! # Configuration
//! [`ImpairConfig`]: one [`ImpairSpec`] per direction and the PRNG `seed`. Every field of
//! [`ImpairSpec::default`] is zero except `limit` (1000, netem's default), and that spec
//! passes every frame unchanged, at once, in order, without drawing a random number.
//!
//! | field | netem | meaning |
//! |---|---|---|
//! | `delay`, `jitter` | `delay TIME JITTER` | uniform in `[delay − jitter, delay + jitter)`, at least 0 |
//! | `correlation` | `delay … CORRELATION` | weight of the previous draw in the next (see below) |
//! | `loss` | `loss random P` / `loss gemodel p r 1-h 1-k` | [`LossModel`] |
//! | `duplicate` | `duplicate P` | probability of one extra copy |
//! | `reorder`, `reorder_gap` | `reorder P gap N` | probability of skipping the delay |
//! | `rate` | `rate R` | bytes per second: each frame leaves `len / rate` after the previous |
//! | `limit` | `limit N` | most frames held in this direction |
//!
//! Probabilities are [`Ppm`] (parts per million; 1 000 000 and more is certainty).
//!
//! # Per frame, in netem's order
//! 1. **Duplicate** with probability `duplicate`, then **lose** by the loss model. Like netem
//!    (`count = 1 + dup − loss`): a lost frame that was also to be duplicated goes on once
//!    (neither counted), a lost frame otherwise is dropped. The copy ([`Context::clone_packet`],
//!    counted as generated) is then handled as a new arrival that is never duplicated again —
//!    loss, reorder and delay are drawn for it anew — as netem re-enqueues its clone at the
//!    root qdisc. With the pool empty no copy is made (`duplicate_no_buffer`).
//! 2. **Reorder**: after `reorder_gap − 1` delayed frames (gap 0 counts as 1, tc's default),
//!    each frame is sent at once with probability `reorder` and the gap starts again; the
//!    others are delayed, so the frame sent at once overtakes them. Reordering needs a delay
//!    (tc refuses it without one; here it has no visible effect then). A frame sent ahead
//!    skips the rate limit too, as in netem.
//! 3. **Delay**: `due = now + delay ± jitter`. With `rate`, `due = max(previous due, now +
//!    delay) + len / rate` (netem's serialisation: the frame waits for the one before it
//!    to be on the wire, and its own bytes take time).
//! 4. A frame already due leaves at once; otherwise it is held. If `limit` frames are held
//!    in that direction already it is dropped instead (`queue_full`). A frame that leaves at
//!    once never occupies the queue and so is never a `queue_full` drop; netem counts it
//!    against its limit because a qdisc queues everything.
//!
//! Held frames leave when their time has come: at the start of every `process` call (both
//! directions) and in `tick`, every [`TICK`] (1 ms) while the element can hold frames at all
//! (`tick_interval` is `None` for a spec without delay, jitter and rate). A frame therefore
//! leaves at most one tick (plus the worker's wake-up latency) after its exact due time; the
//! due times themselves are exact, so a rate is exact over any period longer than a tick.
//!
//! **Order.** Frames of one direction leave in due-time order, equal due times in arrival
//! order. Without jitter and reordering that is arrival order. Jitter without a rate
//! reorders frames whose draws cross, as netem does; with a rate every due time is later
//! than the previous one, so order is kept (as in Linux, where netem with `rate` keeps order).
//!
//! **Correlation** is netem's: `next = (1 − c)·fresh + c·previous` on the 32-bit uniform
//! value before it is scaled to the jitter range. The bounds stay the same; like netem's it
//! also narrows the distribution towards the middle (a known netem property, not a bug here).
//!
//! # Counters
//! Per direction, prefixed `a_to_b_` or `b_to_a_`:
//! `passed` (frames sent out, copies and frames sent ahead included), `delayed` (frames that
//! were held before leaving), `lost` (= `lost_random` + `lost_burst`), `lost_random` (random
//! loss, or Gilbert-Elliott loss in the good state), `lost_burst` (Gilbert-Elliott loss in
//! the bad state), `duplicated` (copies made), `duplicate_no_buffer` (copies not made: pool
//! empty), `reordered` (frames sent ahead), `rate_queued` (frames that had to wait for an
//! earlier one's transmission), `queue_full` (drops at `limit`), `held` (gauge). Per
//! direction `in + duplicated == passed + lost + queue_full + held`.
//!
//! Drops: impairment losses are counted as `impair_loss` ([`LOSS_DROP`]) and queue overflow
//! as `impair_queue_full` ([`QUEUE_FULL_DROP`]), the element's own reasons
//! ([`ImpairDrop`]); the element counters above tell the direction and the loss model.
//!
//! # Notes
//! * **Queue.** Like netem's tfifo, held frames live in a FIFO (`VecDeque`) while due times
//!   arrive in order — always, without jitter — with a binary heap for frames due earlier
//!   than the FIFO's tail (jitter): O(1) per frame in order, O(log n) otherwise, the earliest
//!   of the two heads leaves first. The FIFO is allocated for `limit` frames when the
//!   direction can hold frames at all, the heap too when it has jitter without a rate (the
//!   only case with due times out of order); at most 65 536 each up front, a larger limit
//!   grows them on first use. So the packet path allocates nothing in steady state.
//!   Cost, release build, 64-byte frames in bursts of 32 at 3.2 Mpps with ~3200 held (on
//!   top of ~28 ns/frame for the test loop's own alloc and free): zero spec ~10 ns/frame,
//!   delay (FIFO) ~22, delay with loss/duplicate/reorder 1 % ~25, delay with jitter (heap)
//!   ~170 — random keys make the heap's comparisons unpredictable branches.
//! * **Buffers.** Held frames keep their packet buffers: the packet pool must have room for
//!   `limit` frames per direction on top of what the rest of the graph needs.
//! * **Randomness.** One SplitMix64 generator per direction, seeded from `seed` and the
//!   direction, so a direction's draws do not depend on the other direction's traffic; the
//!   same seed, configuration and arrival times give the same output, frame for frame.
//! * **Rate** counts `len()` bytes of the frame as the element sees it (no preamble, FCS or
//!   inter-frame gap, no netem `packet_overhead`/`cell`), and a GSO super-frame as its
//!   length.
//! * **Not modelled** (netem has them): delay distribution tables (`distribution normal`
//!   …; delay is uniform), correlation of loss/duplicate/reorder draws (netem's is known to
//!   be broken and deprecated), the 4-state loss model, `corrupt`, `ecn`, `slot`.
//!
//! # See also
//! Linux `net/sched/sch_netem.c` (`netem_enqueue`, `tfifo_enqueue`, `loss_gilb_ell`,
//! `get_crandom`), tc-netem(8).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::num::NonZeroU64;
use std::time::Duration;

use nfv_dataplane::{
    Batch, Context, CounterInfo, DropReason, Element, GateSpec, InputGate, Instant, OutputGate,
    Outputs, PacketBuf, Table,
};

/// Default frames held per direction (netem's default `limit`).
pub const DEFAULT_LIMIT: u32 = 1000;

/// How often `tick` releases frames that have become due.
pub const TICK: Duration = Duration::from_millis(1);

nfv_dataplane::drop_reasons! {
    /// Why the impairment drops a frame (besides the core [`DropReason`]s).
    pub enum ImpairDrop: element {
        /// Impairment: lost on purpose by the link's loss model (`loss:`, random or
        /// Gilbert-Elliott); the element counters `*_lost_random`/`*_lost_burst` tell which.
        Loss = "impair_loss",
        /// Impairment: `limit` frames were already held in that direction (netem's queue
        /// limit).
        QueueFull = "impair_queue_full",
    }
}

/// The drop reason of an impairment loss (see the module docs, # Counters).
pub const LOSS_DROP: ImpairDrop = ImpairDrop::Loss;

/// The drop reason of a frame over `limit` (see the module docs, # Counters).
pub const QUEUE_FULL_DROP: ImpairDrop = ImpairDrop::QueueFull;

/// Input/output gate of side `a`.
pub const GATE_A: u16 = 0;
/// Input/output gate of side `b`.
pub const GATE_B: u16 = 1;

/// Queue entries allocated up front per structure, whatever the limit.
const PREALLOC_MAX: usize = 65_536;

const MILLION: u32 = 1_000_000;

/// A probability in parts per million. Values of 1 000 000 and above are certainty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ppm(pub u32);

impl Ppm {
    /// Never.
    pub const ZERO: Ppm = Ppm(0);
    /// Always.
    pub const ONE: Ppm = Ppm(MILLION);

    /// `p` percent.
    pub const fn percent(p: u32) -> Ppm {
        Ppm(p.saturating_mul(10_000))
    }

    /// The value in parts per million.
    pub const fn get(self) -> u32 {
        self.0
    }
}

/// As a percentage: `30%`, `0.25%`, `0.0001%`.
impl fmt::Display for Ppm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 10_000, self.0 % 10_000);
        if frac == 0 {
            write!(f, "{whole}%")
        } else {
            let digits = format!("{frac:04}");
            write!(f, "{whole}.{}%", digits.trim_end_matches('0'))
        }
    }
}

/// The Gilbert-Elliott loss model, with netem's `gemodel` semantics: a Markov chain of a
/// good and a bad state, one step per frame. Each frame first moves the chain (good → bad
/// with `p`, bad → good with `r`), then is lost with the loss probability *of the state it
/// arrived in* (`loss_good` or `loss_bad`) — netem's `loss_gilb_ell` order.
///
/// tc writes this `loss gemodel p r 1-h 1-k`: `loss_bad` is its `1-h` (`h`: the chance a frame
/// gets through in the bad state) and `loss_good` its `1-k` (`k`: the same in the good state).
/// With `loss_bad` 100 % and `loss_good` 0 (tc's defaults, [`GilbertElliott::simple`]) every
/// frame in the bad state is lost: losses come in bursts of mean length `1 / r`, separated by
/// runs of mean length `1 / p`, and the mean loss rate is `p / (p + r)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GilbertElliott {
    /// Good → bad transition probability per frame.
    pub p: Ppm,
    /// Bad → good transition probability per frame.
    pub r: Ppm,
    /// Loss probability in the bad state (tc's `1-h`).
    pub loss_bad: Ppm,
    /// Loss probability in the good state (tc's `1-k`).
    pub loss_good: Ppm,
}

impl GilbertElliott {
    /// The simple Gilbert model (`loss gemodel p r`): all frames lost in the bad state, none
    /// in the good one.
    pub const fn simple(p: Ppm, r: Ppm) -> GilbertElliott {
        GilbertElliott {
            p,
            r,
            loss_bad: Ppm::ONE,
            loss_good: Ppm::ZERO,
        }
    }
}

/// How frames are lost (netem `loss random` or `loss gemodel`; one model per direction,
/// as in netem).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossModel {
    /// Each frame lost independently with this probability (`Random(Ppm::ZERO)`: no loss).
    Random(Ppm),
    /// Bursty loss: see [`GilbertElliott`].
    GilbertElliott(GilbertElliott),
}

/// In tc's words: `random 30%`, `gemodel 1% 25% 100% 0%` (p, r, 1-h, 1-k).
impl fmt::Display for LossModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LossModel::Random(p) => write!(f, "random {p}"),
            LossModel::GilbertElliott(g) => {
                write!(f, "gemodel {} {} {} {}", g.p, g.r, g.loss_bad, g.loss_good)
            }
        }
    }
}

impl Default for LossModel {
    fn default() -> LossModel {
        LossModel::Random(Ppm::ZERO)
    }
}

/// The impairment of one direction. See the module docs for the semantics of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImpairSpec {
    /// Base delay.
    pub delay: Duration,
    /// Delay varies uniformly in `[delay − jitter, delay + jitter)`, clamped at zero.
    pub jitter: Duration,
    /// Correlation of successive jitter draws (0: independent).
    pub correlation: Ppm,
    /// Loss model.
    pub loss: LossModel,
    /// Probability of one extra copy of a frame.
    pub duplicate: Ppm,
    /// Probability of sending a frame at once, ahead of the delayed ones.
    pub reorder: Ppm,
    /// Frames delayed between two reorder chances, plus one (0 and 1: every frame has one).
    pub reorder_gap: u32,
    /// Link rate in bytes per second (`None`: unlimited).
    pub rate: Option<NonZeroU64>,
    /// Most frames held in this direction.
    pub limit: u32,
}

impl Default for ImpairSpec {
    fn default() -> ImpairSpec {
        ImpairSpec {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            correlation: Ppm::ZERO,
            loss: LossModel::default(),
            duplicate: Ppm::ZERO,
            reorder: Ppm::ZERO,
            reorder_gap: 0,
            rate: None,
            limit: DEFAULT_LIMIT,
        }
    }
}

/// Configuration of an [`Impair`] element.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImpairConfig {
    /// Frames from input 0 (`a`) to output 1 (`b`).
    pub a_to_b: ImpairSpec,
    /// Frames from input 1 (`b`) to output 0 (`a`).
    pub b_to_a: ImpairSpec,
    /// PRNG seed: the same seed and arrival times give the same output.
    pub seed: u64,
}

/// SplitMix64 (Steele, Lea, Flood 2014): 64 bits of state, one add and a mix per draw;
/// plenty for simulation, not for cryptography.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[inline]
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(Self::GAMMA);
        Self::mix(self.0)
    }

    #[inline]
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// True with probability `p`. Draws nothing for 0 or certainty.
    #[inline]
    fn chance(&mut self, p: Ppm) -> bool {
        match p.0 {
            0 => false,
            p if p >= MILLION => true,
            p => (u64::from(self.next_u32()) * u64::from(MILLION)) >> 32 < u64::from(p),
        }
    }
}

/// A held frame; ordered by `(due, seq)`, earliest first (reversed for the max-heap).
#[derive(Debug)]
struct Held {
    due: u64,
    seq: u64,
    pkt: PacketBuf,
}

impl Held {
    fn key(&self) -> (u64, u64) {
        (self.due, self.seq)
    }
}

impl PartialEq for Held {
    fn eq(&self, other: &Held) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Held {}

impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Held) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Held {
    fn cmp(&self, other: &Held) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// Per-direction counters (see the module docs, # Counters).
#[derive(Clone, Copy, Debug, Default)]
struct LaneCounters {
    passed: u64,
    delayed: u64,
    lost_random: u64,
    lost_burst: u64,
    duplicated: u64,
    duplicate_no_buffer: u64,
    reordered: u64,
    rate_queued: u64,
    queue_full: u64,
}

/// Counter names, per direction, in the order [`Lane::counters`] reports them.
/// The counters of [`Element::counters`], in order (a to b, then b to a), with their
/// type and help.
pub const IMPAIR_COUNTERS: &[CounterInfo] = &[
    CounterInfo::counter(
        "a_to_b_passed",
        "a to b: frames sent on (at once or after their delay).",
    ),
    CounterInfo::counter(
        "a_to_b_delayed",
        "a to b: frames held for a delay, jitter or the rate.",
    ),
    CounterInfo::counter(
        "a_to_b_lost",
        "a to b: frames lost by the loss model (random + burst).",
    ),
    CounterInfo::counter("a_to_b_lost_random", "a to b: frames lost by random loss."),
    CounterInfo::counter(
        "a_to_b_lost_burst",
        "a to b: frames lost in a Gilbert-Elliott state.",
    ),
    CounterInfo::counter("a_to_b_duplicated", "a to b: extra copies made."),
    CounterInfo::counter(
        "a_to_b_duplicate_no_buffer",
        "a to b: copies not made: the packet pool was empty.",
    ),
    CounterInfo::counter(
        "a_to_b_reordered",
        "a to b: frames sent ahead of delayed ones.",
    ),
    CounterInfo::counter(
        "a_to_b_rate_queued",
        "a to b: frames that waited for an earlier one's transmission at the rate.",
    ),
    CounterInfo::counter(
        "a_to_b_queue_full",
        "a to b: frames dropped: limit frames were already held.",
    ),
    CounterInfo::gauge("a_to_b_held", "a to b: frames held now."),
    CounterInfo::counter(
        "b_to_a_passed",
        "b to a: frames sent on (at once or after their delay).",
    ),
    CounterInfo::counter(
        "b_to_a_delayed",
        "b to a: frames held for a delay, jitter or the rate.",
    ),
    CounterInfo::counter(
        "b_to_a_lost",
        "b to a: frames lost by the loss model (random + burst).",
    ),
    CounterInfo::counter("b_to_a_lost_random", "b to a: frames lost by random loss."),
    CounterInfo::counter(
        "b_to_a_lost_burst",
        "b to a: frames lost in a Gilbert-Elliott state.",
    ),
    CounterInfo::counter("b_to_a_duplicated", "b to a: extra copies made."),
    CounterInfo::counter(
        "b_to_a_duplicate_no_buffer",
        "b to a: copies not made: the packet pool was empty.",
    ),
    CounterInfo::counter(
        "b_to_a_reordered",
        "b to a: frames sent ahead of delayed ones.",
    ),
    CounterInfo::counter(
        "b_to_a_rate_queued",
        "b to a: frames that waited for an earlier one's transmission at the rate.",
    ),
    CounterInfo::counter(
        "b_to_a_queue_full",
        "b to a: frames dropped: limit frames were already held.",
    ),
    CounterInfo::gauge("b_to_a_held", "b to a: frames held now."),
];

/// Which counter a loss goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loss {
    Random,
    Burst,
}

/// One direction: its settings (in nanoseconds and 32-bit fixed point), PRNG and queue.
#[derive(Debug)]
struct Lane {
    name: &'static str,
    /// As configured, for [`Element::tables`].
    spec: ImpairSpec,
    out: OutputGate,
    delay: u64,
    jitter: u64,
    /// Correlation weight in 1/2^32 (0..=2^32), netem's `rho + 1`.
    rho: u64,
    loss: LossModel,
    duplicate: Ppm,
    reorder: Ppm,
    gap: u32,
    rate: Option<NonZeroU64>,
    limit: usize,
    rng: SplitMix64,
    /// The previous correlated draw.
    last_draw: u32,
    /// Gilbert-Elliott: in the bad state.
    bad: bool,
    /// Frames delayed since the last reorder (netem's `counter`).
    since_reorder: u32,
    /// Latest due time given with a rate (ns).
    last_due: u64,
    /// Arrival order of held frames (ties in due time leave in this order).
    seq: u64,
    fifo: VecDeque<Held>,
    heap: BinaryHeap<Held>,
    c: LaneCounters,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Lane {
    fn new(spec: &ImpairSpec, seed: u64, salt: u64, name: &'static str, out: u16) -> Lane {
        let mut rng = SplitMix64(SplitMix64::mix(seed ^ salt));
        let last_draw = rng.next_u32();
        let c = u64::from(spec.correlation.0.min(MILLION));
        let rho = (c << 32) / u64::from(MILLION);
        let limit = spec.limit as usize;
        let can_hold = !spec.delay.is_zero() || !spec.jitter.is_zero() || spec.rate.is_some();
        let fifo_cap = if can_hold { limit.min(PREALLOC_MAX) } else { 0 };
        // Only jitter without a rate gives due times out of arrival order.
        let heap_cap = if !spec.jitter.is_zero() && spec.rate.is_none() {
            fifo_cap
        } else {
            0
        };
        Lane {
            name,
            spec: spec.clone(),
            out: OutputGate(out),
            delay: nanos(spec.delay),
            jitter: nanos(spec.jitter),
            rho,
            loss: spec.loss,
            duplicate: spec.duplicate,
            reorder: spec.reorder,
            gap: spec.reorder_gap.max(1),
            rate: spec.rate,
            limit,
            rng,
            last_draw,
            bad: false,
            since_reorder: 0,
            last_due: 0,
            seq: 0,
            fifo: VecDeque::with_capacity(fifo_cap),
            heap: BinaryHeap::with_capacity(heap_cap),
            c: LaneCounters::default(),
        }
    }

    fn can_hold(&self) -> bool {
        self.delay != 0 || self.jitter != 0 || self.rate.is_some()
    }

    fn held(&self) -> usize {
        self.fifo.len() + self.heap.len()
    }

    /// netem `get_crandom`: a uniform 32-bit value, correlated with the previous one.
    #[inline]
    fn correlated_u32(&mut self) -> u32 {
        let fresh = u64::from(self.rng.next_u32());
        if self.rho == 0 {
            return fresh as u32;
        }
        // The weights sum to 2^32 and both values are < 2^32: no overflow, result < 2^32.
        let v = (fresh * ((1 << 32) - self.rho) + u64::from(self.last_draw) * self.rho) >> 32;
        self.last_draw = v as u32;
        self.last_draw
    }

    /// This frame's delay in ns: uniform in `[delay − jitter, delay + jitter)`, at least 0.
    #[inline]
    fn draw_delay(&mut self) -> u64 {
        if self.jitter == 0 {
            return self.delay;
        }
        let span = 2 * u128::from(self.jitter);
        let offset = (u128::from(self.correlated_u32()) * span) >> 32;
        let d = (u128::from(self.delay) + offset).saturating_sub(u128::from(self.jitter));
        u64::try_from(d).unwrap_or(u64::MAX)
    }

    /// netem `loss_event`: is this frame lost, and by which kind of loss.
    #[inline]
    fn loss_event(&mut self) -> Option<Loss> {
        match self.loss {
            LossModel::Random(p) => self.rng.chance(p).then_some(Loss::Random),
            LossModel::GilbertElliott(ge) => {
                if self.bad {
                    if self.rng.chance(ge.r) {
                        self.bad = false;
                    }
                    self.rng.chance(ge.loss_bad).then_some(Loss::Burst)
                } else {
                    if self.rng.chance(ge.p) {
                        self.bad = true;
                    }
                    self.rng.chance(ge.loss_good).then_some(Loss::Random)
                }
            }
        }
    }

    fn lose(&mut self, kind: Loss, pkt: PacketBuf, out: &mut Outputs) {
        match kind {
            Loss::Random => self.c.lost_random += 1,
            Loss::Burst => self.c.lost_burst += 1,
        }
        out.note(&pkt, || format!("impair {}: lost ({kind:?})", self.name));
        out.drop(pkt, LOSS_DROP);
    }

    /// A frame arriving at `ctx.now`: duplicate, lose, then schedule (module docs, step 1).
    #[inline]
    fn admit(&mut self, ctx: &mut Context, pkt: PacketBuf, out: &mut Outputs) {
        let dup = self.rng.chance(self.duplicate);
        let lost = self.loss_event();
        let now = ctx.now.as_nanos();
        match (dup, lost) {
            (false, None) | (true, Some(_)) => self.schedule(now, pkt, out),
            (false, Some(kind)) => self.lose(kind, pkt, out),
            (true, None) => {
                let copy = ctx.clone_packet(&pkt);
                self.schedule(now, pkt, out);
                match copy {
                    Some(copy) => {
                        self.c.duplicated += 1;
                        out.note(&copy, || format!("impair {}: duplicate", self.name));
                        // The copy arrives anew, never duplicated again.
                        match self.loss_event() {
                            Some(kind) => self.lose(kind, copy, out),
                            None => self.schedule(now, copy, out),
                        }
                    }
                    None => self.c.duplicate_no_buffer += 1,
                }
            }
        }
    }

    /// Reorder, delay and rate (module docs, steps 2–4): send at once or hold.
    #[inline]
    fn schedule(&mut self, now: u64, pkt: PacketBuf, out: &mut Outputs) {
        if self.reorder.0 != 0
            && self.since_reorder >= self.gap - 1
            && self.rng.chance(self.reorder)
        {
            self.since_reorder = 0;
            self.c.reordered += 1;
            self.c.passed += 1;
            out.note(&pkt, || {
                format!("impair {}: sent ahead (reorder)", self.name)
            });
            out.emit(self.out, pkt);
            return;
        }
        let mut due = now.saturating_add(self.draw_delay());
        let mut waited = false;
        if let Some(rate) = self.rate {
            if self.last_due > due {
                due = self.last_due;
                waited = true;
            }
            // Frames are at most 64 KiB: len * 1e9 fits a u64.
            due = due.saturating_add(pkt.len() as u64 * 1_000_000_000 / rate.get());
        }
        if due <= now {
            self.c.passed += 1;
            out.emit(self.out, pkt);
            return;
        }
        if self.held() >= self.limit {
            self.c.queue_full += 1;
            out.note(&pkt, || {
                format!("impair {}: queue full ({} held)", self.name, self.limit)
            });
            out.drop(pkt, QUEUE_FULL_DROP);
            return;
        }
        self.since_reorder = self.since_reorder.saturating_add(1);
        if self.rate.is_some() {
            self.last_due = due;
        }
        self.c.delayed += 1;
        self.c.rate_queued += u64::from(waited);
        out.note(&pkt, || {
            format!("impair {}: held for {} µs", self.name, (due - now) / 1000)
        });
        let held = Held {
            due,
            seq: self.seq,
            pkt,
        };
        self.seq += 1;
        if self.fifo.back().is_none_or(|b| b.due <= due) {
            self.fifo.push_back(held);
        } else {
            self.heap.push(held);
        }
    }

    /// Send every held frame due by `now`, earliest first.
    #[inline]
    fn release(&mut self, now: u64, out: &mut Outputs) {
        loop {
            let fifo_first = match (self.fifo.front(), self.heap.peek()) {
                (None, None) => return,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(f), Some(h)) => f.key() < h.key(),
            };
            let next = if fifo_first {
                match self.fifo.front() {
                    Some(f) if f.due <= now => self.fifo.pop_front(),
                    _ => None,
                }
            } else {
                match self.heap.peek() {
                    Some(h) if h.due <= now => self.heap.pop(),
                    _ => None,
                }
            };
            let Some(held) = next else { return };
            self.c.passed += 1;
            out.emit(self.out, held.pkt);
        }
    }

    /// When the next held frame is due (ns), if any.
    fn next_due(&self) -> Option<u64> {
        let f = self.fifo.front().map(|h| h.due);
        let h = self.heap.peek().map(|h| h.due);
        f.into_iter().chain(h).min()
    }

    /// One row of the `impair` table.
    fn row(&self, now: Instant) -> Vec<String> {
        let s = &self.spec;
        let us = |d: Duration| d.as_micros().to_string();
        let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        vec![
            self.name.into(),
            us(s.delay),
            us(s.jitter),
            s.correlation.to_string(),
            s.loss.to_string(),
            s.duplicate.to_string(),
            s.reorder.to_string(),
            self.gap.to_string(),
            opt(s.rate.map(|r| r.to_string())),
            s.limit.to_string(),
            self.held().to_string(),
            opt(self
                .next_due()
                .map(|d| (d.saturating_sub(now.as_nanos()) / 1000).to_string())),
        ]
    }

    fn counters(&self, info: &'static [CounterInfo], f: &mut dyn FnMut(&'static str, u64)) {
        let c = &self.c;
        let values = [
            c.passed,
            c.delayed,
            c.lost_random + c.lost_burst,
            c.lost_random,
            c.lost_burst,
            c.duplicated,
            c.duplicate_no_buffer,
            c.reordered,
            c.rate_queued,
            c.queue_full,
            self.held() as u64,
        ];
        for (c, v) in info.iter().zip(values) {
            f(c.name, v);
        }
    }
}

/// The link impairment element (kind `impair`). See the module documentation.
#[derive(Debug)]
pub struct Impair {
    /// `[a_to_b, b_to_a]`, indexed by input gate.
    lanes: [Lane; 2],
}

impl Impair {
    /// Build the element.
    pub fn new(cfg: &ImpairConfig) -> Impair {
        Impair {
            lanes: [
                Lane::new(&cfg.a_to_b, cfg.seed, 0x6162_2d3e_6220_0000, "a->b", GATE_B),
                Lane::new(&cfg.b_to_a, cfg.seed, 0x622d_3e61_0000_0000, "b->a", GATE_A),
            ],
        }
    }
}

impl Element for Impair {
    fn kind(&self) -> &'static str {
        "impair"
    }

    fn drop_reasons(&self) -> &'static [nfv_dataplane::ReasonInfo] {
        ImpairDrop::TABLE
    }

    fn gates(&self) -> GateSpec {
        GateSpec {
            inputs: 2,
            outputs: 2,
        }
    }

    fn process(
        &mut self,
        ctx: &mut Context,
        input: InputGate,
        mut batch: Batch,
        out: &mut Outputs,
    ) {
        let now = ctx.now.as_nanos();
        for lane in &mut self.lanes {
            lane.release(now, out);
        }
        let Some(lane) = self.lanes.get_mut(usize::from(input.0)) else {
            for pkt in batch.drain() {
                out.drop(pkt, DropReason::BadGate);
            }
            return;
        };
        for pkt in batch.drain() {
            lane.admit(ctx, pkt, out);
        }
    }

    fn tick(&mut self, ctx: &mut Context, out: &mut Outputs) {
        let now = ctx.now.as_nanos();
        for lane in &mut self.lanes {
            lane.release(now, out);
        }
    }

    fn tick_interval(&self) -> Option<Duration> {
        self.lanes.iter().any(Lane::can_hold).then_some(TICK)
    }

    fn held(&self) -> u64 {
        self.lanes.iter().map(|l| l.held() as u64).sum()
    }

    fn counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        for (lane, info) in self.lanes.iter().zip(IMPAIR_COUNTERS.chunks(11)) {
            lane.counters(info, f);
        }
    }

    fn counter_info(&self) -> &'static [CounterInfo] {
        IMPAIR_COUNTERS
    }

    /// One table, `impair`: a row per direction with its settings, the frames it holds and
    /// the time until the next one is due.
    fn tables(&self, now: Instant, out: &mut dyn FnMut(Table)) {
        let mut t = Table::new(
            "impair",
            &[
                "direction",
                "delay_us",
                "jitter_us",
                "correlation",
                "loss",
                "duplicate",
                "reorder",
                "gap",
                "rate_bytes_per_s",
                "limit",
                "held",
                "next_due_us",
            ],
        );
        for lane in &self.lanes {
            t.push_with(|| lane.row(now));
        }
        out(t);
    }

    fn gate_name(&self, gate: u16) -> String {
        match gate {
            GATE_A => "a".into(),
            GATE_B => "b".into(),
            n => n.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nfv_dataplane::testing::{self, eth, mac};
    use nfv_dataplane::{DropCounters, Instant, PacketPool};

    const MS: u64 = 1_000_000;
    const US: u64 = 1_000;
    /// Tests start at 1 s, not at the clock's origin.
    const T0: u64 = 1_000_000_000;

    /// A 60-byte frame (or `len` bytes) carrying `seq` right after the Ethernet header.
    fn frame(seq: u32, len: usize) -> Vec<u8> {
        let mut payload = seq.to_be_bytes().to_vec();
        payload.resize(len.saturating_sub(14).max(4), 0);
        eth(mac(2), mac(1), 0x88b5, &payload)
    }

    fn seq_of(f: &[u8]) -> u32 {
        u32::from_be_bytes([f[14], f[15], f[16], f[17]])
    }

    /// An element, its pool, and everything that came out, with the time and gate.
    struct Rig {
        imp: Impair,
        pool: PacketPool,
        /// `(time ns, output gate, seq)` in emission order.
        log: Vec<(u64, u16, u32)>,
        bytes: Vec<(u64, usize)>,
        drops: DropCounters,
        generated: u64,
    }

    impl Rig {
        fn new(cfg: &ImpairConfig) -> Rig {
            Rig::with_pool(cfg, PacketPool::new(2048, 1600))
        }

        fn with_pool(cfg: &ImpairConfig, pool: PacketPool) -> Rig {
            Rig {
                imp: Impair::new(cfg),
                pool,
                log: Vec::new(),
                bytes: Vec::new(),
                drops: DropCounters::default(),
                generated: 0,
            }
        }

        fn record(&mut self, t: u64, e: &testing::Emitted) {
            for g in 0..2u16 {
                for f in e.gate(usize::from(g)) {
                    self.log.push((t, g, seq_of(f)));
                    self.bytes.push((t, f.len()));
                }
            }
            self.drops.merge(&e.drops);
            self.generated += e.generated;
        }

        /// Frames `seqs` (each `len` bytes) arrive on `input` at `t` (conservation checked).
        fn send_len(&mut self, t: u64, input: u16, seqs: std::ops::Range<u32>, len: usize) {
            let frames: Vec<Vec<u8>> = seqs.map(|s| frame(s, len)).collect();
            let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            let e = testing::run(
                &mut self.imp,
                self.pool,
                Instant::from_nanos(t),
                input,
                &refs,
            );
            self.record(t, &e);
        }

        fn send(&mut self, t: u64, input: u16, seqs: std::ops::Range<u32>) {
            self.send_len(t, input, seqs, 60);
        }

        fn tick(&mut self, t: u64) {
            let e = testing::tick(&mut self.imp, self.pool, Instant::from_nanos(t));
            self.record(t, &e);
        }

        /// Tick every `step` from `from` to `to` inclusive.
        fn ticks(&mut self, from: u64, to: u64, step: u64) {
            let mut t = from;
            while t <= to {
                self.tick(t);
                t += step;
            }
        }

        fn counter(&self, name: &str) -> u64 {
            let mut v = None;
            self.imp.counters(&mut |n, x| {
                if n == name {
                    v = Some(x);
                }
            });
            v.unwrap_or_else(|| panic!("no counter {name}"))
        }

        fn seqs(&self) -> Vec<u32> {
            self.log.iter().map(|e| e.2).collect()
        }
    }

    fn one_way(spec: ImpairSpec, seed: u64) -> ImpairConfig {
        ImpairConfig {
            a_to_b: spec,
            b_to_a: ImpairSpec::default(),
            seed,
        }
    }

    fn delay(ms: u64) -> ImpairSpec {
        ImpairSpec {
            delay: Duration::from_millis(ms),
            ..ImpairSpec::default()
        }
    }

    /// Lengths of the runs of consecutive missing sequence numbers below `n`.
    fn loss_bursts(seqs: &[u32], n: u32) -> Vec<u32> {
        let mut seen = vec![false; n as usize];
        for s in seqs {
            seen[*s as usize] = true;
        }
        let mut bursts = Vec::new();
        let mut run = 0;
        for s in seen {
            if s {
                if run > 0 {
                    bursts.push(run);
                }
                run = 0;
            } else {
                run += 1;
            }
        }
        if run > 0 {
            bursts.push(run);
        }
        bursts
    }

    fn mean(v: &[u32]) -> f64 {
        v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len() as f64
    }

    #[test]
    fn impair_zero_spec_passes_everything_unchanged_immediately() {
        let mut r = Rig::new(&ImpairConfig::default());
        assert_eq!(r.imp.tick_interval(), None, "nothing can be held: no tick");
        let frames: Vec<Vec<u8>> = (0..100).map(|s| frame(s, 60 + s as usize)).collect();
        let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
        let e = testing::run(&mut r.imp, r.pool, Instant::from_nanos(T0), 0, &refs);
        assert_eq!(
            e.gate(1),
            &frames[..],
            "a -> b: same bytes, same order, at once"
        );
        assert!(e.gate(0).is_empty());
        let e = testing::run(&mut r.imp, r.pool, Instant::from_nanos(T0), 1, &refs);
        assert_eq!(e.gate(0), &frames[..], "b -> a");
        assert!(e.gate(1).is_empty());
        assert_eq!(e.drops.total(), 0);
        assert_eq!(r.imp.held(), 0);
        assert_eq!(r.counter("a_to_b_passed"), 100);
        assert_eq!(r.counter("b_to_a_passed"), 100);
        assert_eq!(r.counter("a_to_b_delayed"), 0);
        let mut names = Vec::new();
        r.imp.counters(&mut |n, _| names.push(n));
        assert_eq!(names.len(), 22);
        assert_eq!(r.imp.gate_name(GATE_A), "a");
        assert_eq!(r.imp.gate_name(GATE_B), "b");
        assert_eq!(r.imp.kind(), "impair");
    }

    #[test]
    fn impair_delay_20ms_holds_exactly_until_due() {
        let mut r = Rig::new(&one_way(delay(20), 1));
        assert_eq!(r.imp.tick_interval(), Some(TICK));
        r.send(T0, 0, 0..1);
        r.send(T0 + 5 * MS, 0, 1..2);
        assert!(r.log.is_empty());
        assert_eq!(r.imp.held(), 2);
        assert_eq!(r.counter("a_to_b_held"), 2);
        r.tick(T0 + 20 * MS - 1);
        assert!(r.log.is_empty(), "not one nanosecond early");
        // A `process` call releases what is due before it handles its own frames.
        r.send(T0 + 20 * MS, 0, 2..3);
        assert_eq!(r.log, vec![(T0 + 20 * MS, GATE_B, 0)]);
        r.tick(T0 + 25 * MS - 1);
        assert_eq!(r.log.len(), 1);
        r.tick(T0 + 25 * MS);
        r.tick(T0 + 40 * MS);
        assert_eq!(
            r.log,
            vec![
                (T0 + 20 * MS, GATE_B, 0),
                (T0 + 25 * MS, GATE_B, 1),
                (T0 + 40 * MS, GATE_B, 2)
            ]
        );
        assert_eq!(r.counter("a_to_b_delayed"), 3);
        assert_eq!(r.counter("a_to_b_passed"), 3);
        assert_eq!(r.imp.held(), 0);
    }

    #[test]
    fn impair_jitter_stays_within_bounds_and_reorders() {
        let spec = ImpairSpec {
            jitter: Duration::from_millis(10),
            ..delay(50)
        };
        let mut r = Rig::new(&one_way(spec, 7));
        let n = 1000u32;
        let step = 100 * US;
        for i in 0..n {
            let t = T0 + u64::from(i) * MS;
            r.send(t, 0, i..i + 1);
            r.ticks(t + step, t + MS - step, step);
        }
        r.ticks(
            T0 + u64::from(n) * MS,
            T0 + u64::from(n) * MS + 70 * MS,
            step,
        );
        assert_eq!(r.log.len(), n as usize);
        let delays: Vec<u64> = r
            .log
            .iter()
            .map(|(t, _, s)| t - (T0 + u64::from(*s) * MS))
            .collect();
        // Released at the first tick at or after the due time: at most one step late.
        assert!(delays.iter().all(|d| (40 * MS..60 * MS + step).contains(d)));
        assert!(*delays.iter().min().expect("delays") < 41 * MS);
        assert!(*delays.iter().max().expect("delays") > 59 * MS);
        let seqs = r.seqs();
        assert!(seqs.windows(2).any(|w| w[0] > w[1]), "jitter reorders");
        let mut sorted = seqs.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..n).collect::<Vec<_>>(), "every frame once");
    }

    #[test]
    fn impair_jitter_correlation_keeps_bounds_and_makes_successive_delays_close() {
        let spec = |c| ImpairSpec {
            jitter: Duration::from_millis(10),
            correlation: Ppm::percent(c),
            ..delay(50)
        };
        let mean_step = |c| {
            let mut lane = Lane::new(&spec(c), 3, 0, "t", 1);
            let d: Vec<u64> = (0..10_000).map(|_| lane.draw_delay()).collect();
            assert!(d.iter().all(|d| (40 * MS..60 * MS).contains(d)));
            let steps: u64 = d.windows(2).map(|w| w[0].abs_diff(w[1])).sum();
            steps as f64 / 9_999.0
        };
        let independent = mean_step(0);
        // Uniform on a 20 ms range: mean |difference| is a third of it.
        assert!((6.0 * MS as f64..7.3 * MS as f64).contains(&independent));
        assert!(mean_step(75) < independent / 2.0);
    }

    #[test]
    fn impair_random_loss_30_percent_loses_25_to_35_percent_of_10000() {
        let spec = ImpairSpec {
            loss: LossModel::Random(Ppm::percent(30)),
            ..ImpairSpec::default()
        };
        let mut r = Rig::new(&one_way(spec, 42));
        for c in 0..100 {
            r.send(T0 + c * MS, 0, c as u32 * 100..(c as u32 + 1) * 100);
        }
        let lost = r.counter("a_to_b_lost");
        assert!((2500..=3500).contains(&lost), "lost {lost}");
        assert_eq!(r.counter("a_to_b_lost_random"), lost);
        assert_eq!(r.counter("a_to_b_lost_burst"), 0);
        assert_eq!(r.drops.get(LOSS_DROP), lost);
        assert_eq!(r.log.len() as u64, 10_000 - lost);
        assert_eq!(r.counter("a_to_b_passed"), 10_000 - lost);
        assert!(r.seqs().windows(2).all(|w| w[0] < w[1]), "order kept");
        // Independent losses rarely come in runs.
        assert!(mean(&loss_bursts(&r.seqs(), 10_000)) < 1.6);
    }

    #[test]
    fn impair_gilbert_elliott_loses_in_bursts_of_mean_length_1_over_r() {
        let (p, r_) = (Ppm::percent(1), Ppm::percent(25));
        let spec = ImpairSpec {
            loss: LossModel::GilbertElliott(GilbertElliott::simple(p, r_)),
            ..ImpairSpec::default()
        };
        let mut r = Rig::new(&one_way(spec, 9));
        let n = 100_000u32;
        for c in 0..n / 1000 {
            r.send(T0 + u64::from(c) * MS, 0, c * 1000..(c + 1) * 1000);
        }
        let bursts = loss_bursts(&r.seqs(), n);
        let m = mean(&bursts);
        assert!((3.5..4.5).contains(&m), "mean burst {m}, expected 1/r = 4");
        let lost = r.counter("a_to_b_lost");
        assert_eq!(r.counter("a_to_b_lost_burst"), lost, "all in the bad state");
        assert_eq!(u64::from(bursts.iter().sum::<u32>()), lost);
        // Mean loss rate p / (p + r) = 1/26 ≈ 3.85 %.
        let rate = lost as f64 / f64::from(n);
        assert!((0.030..0.047).contains(&rate), "loss rate {rate}");
    }

    #[test]
    fn impair_gilbert_elliott_good_state_loss_counts_as_random() {
        let ge = GilbertElliott {
            p: Ppm::ZERO,
            r: Ppm::ONE,
            loss_bad: Ppm::ONE,
            loss_good: Ppm::percent(50),
        };
        let spec = ImpairSpec {
            loss: LossModel::GilbertElliott(ge),
            ..ImpairSpec::default()
        };
        let mut r = Rig::new(&one_way(spec, 5));
        r.send(T0, 0, 0..1000);
        let lost = r.counter("a_to_b_lost_random");
        assert!((400..600).contains(&lost), "lost {lost}");
        assert_eq!(r.counter("a_to_b_lost_burst"), 0, "never in the bad state");
    }

    #[test]
    fn impair_duplicate_10_percent_makes_one_extra_copy_each() {
        let spec = ImpairSpec {
            duplicate: Ppm::percent(10),
            ..ImpairSpec::default()
        };
        let mut r = Rig::new(&one_way(spec, 11));
        for c in 0..100u32 {
            r.send(T0 + u64::from(c) * MS, 0, c * 100..(c + 1) * 100);
        }
        let dups = r.counter("a_to_b_duplicated");
        assert!((900..=1100).contains(&dups), "duplicated {dups}");
        assert_eq!(r.generated, dups, "copies are generated packets");
        assert_eq!(r.log.len() as u64, 10_000 + dups);
        let mut count = vec![0u32; 10_000];
        for s in r.seqs() {
            count[s as usize] += 1;
        }
        assert!(count.iter().all(|c| (1..=2).contains(c)));
        assert_eq!(count.iter().filter(|c| **c == 2).count() as u64, dups);
        assert!(
            r.seqs().windows(2).all(|w| w[0] <= w[1]),
            "copy beside original"
        );
    }

    #[test]
    fn impair_duplicate_with_empty_pool_counts_and_passes_the_original() {
        let spec = ImpairSpec {
            duplicate: Ppm::ONE,
            ..ImpairSpec::default()
        };
        let mut r = Rig::with_pool(&one_way(spec, 1), PacketPool::new(1, 128));
        r.send(T0, 0, 0..1);
        assert_eq!(r.seqs(), vec![0]);
        assert_eq!(r.counter("a_to_b_duplicate_no_buffer"), 1);
        assert_eq!(r.counter("a_to_b_duplicated"), 0);
    }

    #[test]
    fn impair_reorder_25_percent_sends_a_quarter_ahead() {
        let spec = ImpairSpec {
            reorder: Ppm::percent(25),
            ..delay(10)
        };
        let mut r = Rig::new(&one_way(spec, 13));
        for i in 0..1000u32 {
            let t = T0 + u64::from(i) * MS;
            r.send(t, 0, i..i + 1);
        }
        r.ticks(T0 + 1000 * MS, T0 + 1020 * MS, MS);
        let ahead = r.counter("a_to_b_reordered");
        assert!((200..=300).contains(&ahead), "reordered {ahead}");
        let at_once = r
            .log
            .iter()
            .filter(|(t, _, s)| *t == T0 + u64::from(*s) * MS)
            .count() as u64;
        assert_eq!(at_once, ahead, "frames sent ahead leave on arrival");
        assert_eq!(r.counter("a_to_b_delayed"), 1000 - ahead);
        let seqs = r.seqs();
        assert!(seqs.windows(2).any(|w| w[0] > w[1]), "order changed");
        let mut sorted = seqs;
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn impair_reorder_gap_5_sends_every_fifth_frame_ahead() {
        // tc-netem(8): "reorder 100% gap 5": 4 frames delayed, the 5th sent at once …
        let spec = ImpairSpec {
            reorder: Ppm::ONE,
            reorder_gap: 5,
            ..delay(10)
        };
        let mut r = Rig::new(&one_way(spec, 2));
        r.send(T0, 0, 0..20);
        assert_eq!(r.seqs(), vec![4, 9, 14, 19]);
        r.tick(T0 + 10 * MS);
        assert_eq!(r.log.len(), 20);
        assert_eq!(&r.seqs()[4..8], &[0, 1, 2, 3]);
    }

    #[test]
    fn impair_rate_10mbit_paces_a_20mbit_offer() {
        let spec = ImpairSpec {
            rate: NonZeroU64::new(10_000_000 / 8),
            ..ImpairSpec::default()
        };
        let mut r = Rig::new(&one_way(spec, 0));
        assert_eq!(r.imp.tick_interval(), Some(TICK));
        // 1500-byte frames at 20 Mbit/s: one every 600 µs, for one second.
        let step = 100 * US;
        let mut seq = 0;
        let mut t = T0;
        while t < T0 + 1_000 * MS {
            if (t - T0).is_multiple_of(600 * US) {
                r.send_len(t, 0, seq..seq + 1, 1500);
                seq += 1;
            } else {
                r.tick(t);
            }
            t += step;
        }
        assert_eq!(seq, 1667);
        let bits: usize = r
            .bytes
            .iter()
            .filter(|(t, _)| *t < T0 + 1_000 * MS)
            .map(|(_, b)| b * 8)
            .sum();
        let mbit = bits as f64 / 1e6;
        assert!((9.5..=10.5).contains(&mbit), "{mbit} Mbit/s");
        assert_eq!(r.drops.total(), 0, "the excess waits, under the limit");
        assert!(r.counter("a_to_b_rate_queued") > 800);
        // 1667 frames of 1.2 ms each: the last leaves 2000.4 ms after the first arrived.
        r.ticks(t, T0 + 2_000 * MS, MS);
        assert_eq!(r.log.len(), 1666);
        r.ticks(T0 + 2_001 * MS, T0 + 2_001 * MS, MS);
        assert_eq!(r.log.len(), 1667);
        assert!(r.seqs().windows(2).all(|w| w[0] < w[1]), "rate keeps order");
    }

    #[test]
    fn impair_rate_with_jitter_keeps_order() {
        let spec = ImpairSpec {
            jitter: Duration::from_millis(20),
            rate: NonZeroU64::new(1_000_000),
            ..delay(30)
        };
        let mut r = Rig::new(&one_way(spec, 21));
        for i in 0..500u32 {
            r.send(T0 + u64::from(i) * 100 * US, 0, i..i + 1);
        }
        r.ticks(T0 + 50 * MS, T0 + 200 * MS, MS);
        assert_eq!(r.seqs(), (0..500).collect::<Vec<_>>());
    }

    #[test]
    fn impair_limit_drops_frames_over_the_queue_limit() {
        let spec = ImpairSpec {
            limit: 10,
            ..delay(1000)
        };
        let mut r = Rig::new(&one_way(spec, 0));
        r.send(T0, 0, 0..15);
        assert_eq!(r.imp.held(), 10);
        assert_eq!(r.counter("a_to_b_queue_full"), 5);
        assert_eq!(r.drops.get(QUEUE_FULL_DROP), 5);
        r.tick(T0 + 1000 * MS);
        assert_eq!(r.seqs(), (0..10).collect::<Vec<_>>());
        assert_eq!(r.imp.held(), 0);
        r.send(T0 + 1000 * MS, 0, 15..16);
        assert_eq!(r.imp.held(), 1, "room again");
    }

    #[test]
    fn impair_directions_are_independent() {
        let lossy = ImpairSpec {
            loss: LossModel::Random(Ppm::percent(50)),
            ..delay(10)
        };
        let cfg = ImpairConfig {
            a_to_b: lossy.clone(),
            b_to_a: ImpairSpec::default(),
            seed: 77,
        };
        let mut r = Rig::new(&cfg);
        r.send(T0, 1, 0..100);
        assert_eq!(r.log.len(), 100, "b -> a is unimpaired");
        assert!(r.log.iter().all(|(t, g, _)| *t == T0 && *g == GATE_A));
        r.log.clear();
        r.send(T0, 0, 0..1000);
        assert!(r.log.is_empty(), "a -> b is delayed");
        r.tick(T0 + 10 * MS);
        assert!(r.log.iter().all(|(_, g, _)| *g == GATE_B));
        let lost = r.counter("a_to_b_lost");
        assert!((400..=600).contains(&lost));
        assert_eq!(r.counter("b_to_a_lost"), 0);
        assert_eq!(r.counter("b_to_a_passed"), 100);

        // a -> b draws the same losses whether or not b -> a carries traffic.
        let a_only = |interleave: bool| {
            let mut r = Rig::new(&ImpairConfig {
                b_to_a: lossy.clone(),
                ..cfg.clone()
            });
            for i in 0..200u32 {
                r.send(T0, 0, i..i + 1);
                if interleave {
                    r.send(T0, 1, i..i + 1);
                }
            }
            r.tick(T0 + 10 * MS);
            r.log.retain(|e| e.1 == GATE_B);
            r.seqs()
        };
        assert_eq!(a_only(false), a_only(true));
    }

    fn everything(seed: u64) -> ImpairConfig {
        let spec = ImpairSpec {
            jitter: Duration::from_millis(5),
            correlation: Ppm::percent(25),
            loss: LossModel::GilbertElliott(GilbertElliott::simple(
                Ppm::percent(5),
                Ppm::percent(30),
            )),
            duplicate: Ppm::percent(5),
            reorder: Ppm::percent(10),
            ..delay(10)
        };
        ImpairConfig {
            a_to_b: spec.clone(),
            b_to_a: spec,
            seed,
        }
    }

    fn run_everything(seed: u64) -> Vec<(u64, u16, u32)> {
        let mut r = Rig::new(&everything(seed));
        for i in 0..500u32 {
            let t = T0 + u64::from(i) * 300 * US;
            r.send(t, u16::from(i % 2 == 0), i..i + 1);
            r.tick(t + 150 * US);
        }
        r.ticks(T0 + 150 * MS, T0 + 200 * MS, MS);
        assert_eq!(r.imp.held(), 0);
        r.log
    }

    #[test]
    fn impair_same_seed_gives_identical_output() {
        let a = run_everything(1234);
        assert!(a.len() > 400);
        assert_eq!(a, run_everything(1234));
        assert_ne!(a, run_everything(1235), "the seed matters");
    }

    #[test]
    fn impair_table_shows_settings_held_frames_and_next_due() {
        let cfg = ImpairConfig {
            a_to_b: ImpairSpec {
                jitter: Duration::from_micros(2500),
                loss: LossModel::GilbertElliott(GilbertElliott::simple(
                    Ppm(2_500),
                    Ppm::percent(25),
                )),
                rate: NonZeroU64::new(125_000),
                ..delay(20)
            },
            b_to_a: ImpairSpec {
                loss: LossModel::Random(Ppm(1)),
                ..ImpairSpec::default()
            },
            seed: 0,
        };
        let mut r = Rig::new(&cfg);
        r.send(T0, 0, 0..1);
        let mut tables = Vec::new();
        r.imp
            .tables(Instant::from_nanos(T0 + 5 * MS), &mut |t| tables.push(t));
        assert_eq!(tables.len(), 1);
        let t = &tables[0];
        assert_eq!((t.name, t.total, t.columns.len()), ("impair", 2, 12));
        let a = &t.rows[0];
        assert_eq!(&a[..4], &["a->b", "20000", "2500", "0%"]);
        assert_eq!(a[4], "gemodel 0.25% 25% 100% 0%");
        assert_eq!(&a[8..11], &["125000", "1000", "1"]);
        let due: u64 = a[11].parse().expect("a number");
        // 17.5..22.5 ms of delay + 480 µs for 60 bytes at 1 Mbit/s, 5 ms already gone.
        assert!((12_980..17_980).contains(&due), "{due}");
        let b = &t.rows[1];
        assert_eq!(&b[..5], &["b->a", "0", "0", "0%", "random 0.0001%"]);
        assert_eq!(&b[8..], &["-", "1000", "0", "-"]);
    }

    /// Random settings and traffic: every call keeps conservation (checked by the test
    /// runner) and each direction's counters add up.
    #[test]
    fn impair_random_settings_account_for_every_frame() {
        let mut g = SplitMix64(99);
        let ppm = |g: &mut SplitMix64, max: u32| Ppm(g.next_u32() % (max + 1));
        for case in 0..40u64 {
            let mut spec = || ImpairSpec {
                delay: Duration::from_micros(u64::from(g.next_u32() % 20_000)),
                jitter: Duration::from_micros(u64::from(g.next_u32() % 30_000)),
                correlation: ppm(&mut g, MILLION),
                loss: if g.next_u32().is_multiple_of(2) {
                    LossModel::Random(ppm(&mut g, 300_000))
                } else {
                    LossModel::GilbertElliott(GilbertElliott {
                        p: ppm(&mut g, 100_000),
                        r: ppm(&mut g, MILLION),
                        loss_bad: ppm(&mut g, MILLION),
                        loss_good: ppm(&mut g, 50_000),
                    })
                },
                duplicate: ppm(&mut g, 300_000),
                reorder: ppm(&mut g, 500_000),
                reorder_gap: g.next_u32() % 4,
                rate: NonZeroU64::new(u64::from(g.next_u32() % 3) * 500_000),
                limit: g.next_u32() % 64,
            };
            let cfg = ImpairConfig {
                a_to_b: spec(),
                b_to_a: spec(),
                seed: case,
            };
            let mut r = Rig::new(&cfg);
            let mut sent = [0u64; 2];
            let mut t = T0;
            for i in 0..300u32 {
                t += u64::from(g.next_u32() % 2000) * US;
                let n = g.next_u32() % 40;
                let input = (g.next_u32() % 2) as u16;
                r.send(t, input, i * 64..i * 64 + n);
                sent[usize::from(input)] += u64::from(n);
                if i.is_multiple_of(3) {
                    r.tick(t + 500 * US);
                }
            }
            for (d, input) in [("a_to_b", 0), ("b_to_a", 1)] {
                let c = |what: &str| r.counter(&format!("{d}_{what}"));
                assert_eq!(
                    sent[input] + c("duplicated"),
                    c("passed") + c("lost") + c("queue_full") + c("held"),
                    "case {case} {d}: {cfg:?}"
                );
            }
            r.ticks(t + MS, t + 200 * MS, MS);
            assert_eq!(r.imp.held(), 0);
            let passed = r.counter("a_to_b_passed") + r.counter("b_to_a_passed");
            assert_eq!(r.log.len() as u64, passed);
        }
    }

    #[test]
    fn impair_bad_input_gate_is_a_counted_drop() {
        let mut r = Rig::new(&ImpairConfig::default());
        r.send(T0, 2, 0..3);
        assert_eq!(r.drops.get(DropReason::BadGate), 3);
        assert!(r.log.is_empty());
    }
}
