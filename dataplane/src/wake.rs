//! When a sleeping worker should wake up before its next packet: learned from the gaps
//! between bursts, within a CPU budget.
//!
//! A worker in adaptive mode sleeps in epoll once no packet has come for its spin window,
//! and the first packet after that pays the wake-up (~100 µs on a nested VM: more than a
//! Linux bridge's whole ping RTT). Much sparse traffic is periodic — a ping every 10 ms, a
//! heartbeat, a request/response loop with think time — so the next burst can be
//! predicted from the last ones, the idea of NAPI's `gro_flush_timeout` +
//! `napi_defer_hard_irqs` and of io_uring's hybrid polling: sleep until shortly *before*
//! the next packet is due, then poll through its expected arrival.
//!
//! [`WakePredictor`] remembers, per worker, the last 16 gaps between *burst starts* (a
//! packet after at least [`IDLE_GAP`] without one) and groups them into recurring gaps
//! (within 300 µs of each other, seen at least twice). Recurring gaps are often more than
//! one: a sender sleeping on the kernel's timer tick sends on tick boundaries, so `ping -i
//! 0.01` on a 250 Hz kernel arrives 16 or 20 ms apart (measured here). Before sleeping the
//! worker plans a wake-up `lead` before the earliest recurring gap still ahead and polls
//! until `lead` after it (`lead = MIN_LEAD +` half the cluster's spread); if no packet came
//! it plans for the next one. Plans are made only when the recurring gaps explain three
//! quarters of the history and polling through all their windows, as a share of the mean
//! gap, fits the CPU budget. A missed prediction costs one window of polling; irregular or
//! rare traffic (an idle topology) gets no plan and sleeps as before.
//!
//! Pure: time is passed in, so the logic is tested without a clock.

use std::time::Duration;

use crate::time::Instant;

/// A packet after this long without one starts a new burst (the gaps between burst starts
/// are what is learned; the packets of one burst, e.g. a ping and its reply, are one).
pub const IDLE_GAP: Duration = Duration::from_micros(500);

/// Smallest lead before and after the predicted arrival: covers the timer's own wake-up
/// latency on this kind of VM (the worker sets its timer slack to 1 µs).
pub const MIN_LEAD: Duration = Duration::from_micros(200);

/// Default share of a core a worker may spend polling for predicted packets: 10 %.
/// Measured (`bench/latency.sh --rounds 3`, median ping RTT of 200 pings 10 ms apart through
/// a switch, bridge 67 µs): budget 0 % 160 µs (2.39×) at 1.3 % CPU, 5 % 156 µs (2.33×, the
/// two windows of a 16/20 ms sender rarely fit), 10 % 124 µs (1.85×) at 3.1 % CPU; idle
/// 0.0–0.1 %, one ping a second ≤ 0.11 % of a core.
pub const DEFAULT_BUDGET_PPM: u32 = 100_000;

/// Gaps longer than this are not learned (a human's ping every second is, an idle
/// topology's rare ARP is not worth a wake-up).
pub const MAX_GAP: Duration = Duration::from_secs(2);

/// A planned early wake-up: sleep until `wake_at`, then poll until `poll_until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakePlan {
    /// When to stop sleeping.
    pub wake_at: Instant,
    /// Poll without sleeping until then (the predicted arrival plus the lead).
    pub poll_until: Instant,
}

/// Gaps remembered (the last ones).
const HISTORY: usize = 16;

/// Gaps within this of each other are one recurring gap ("about 16 ms").
const CLUSTER: Duration = Duration::from_micros(300);

/// Most distinct recurring gaps planned for (a sender on a 4 ms timer tick that asks for
/// 10 ms sends at 16 or 20 ms gaps: two).
const MAX_CANDIDATES: usize = 4;

/// See the module docs.
#[derive(Clone, Debug)]
pub struct WakePredictor {
    budget_ppm: u32,
    last_packet: Option<Instant>,
    last_start: Option<Instant>,
    /// The last gaps between burst starts, ns (a ring; `filled` of them valid).
    gaps: [u64; HISTORY],
    next: usize,
    filled: usize,
    /// Recurring gaps learned from `gaps` at the last burst start: (centre, lead) in ns,
    /// shortest first.
    candidates: [(u64, u64); MAX_CANDIDATES],
    ncand: usize,
    /// Plans made (for the worker's stats).
    pub plans: u64,
    /// Plans whose window saw the burst start.
    pub hits: u64,
    pending: Option<WakePlan>,
}

impl WakePredictor {
    /// A predictor allowed `budget_ppm` parts per million of a core for early polling (0
    /// disables prediction).
    #[must_use]
    pub fn new(budget_ppm: u32) -> WakePredictor {
        WakePredictor {
            budget_ppm,
            last_packet: None,
            last_start: None,
            gaps: [0; HISTORY],
            next: 0,
            filled: 0,
            candidates: [(0, 0); MAX_CANDIDATES],
            ncand: 0,
            plans: 0,
            hits: 0,
            pending: None,
        }
    }

    /// Packets were received at `now`.
    pub fn on_packets(&mut self, now: Instant) {
        let new_burst = self
            .last_packet
            .is_none_or(|t| now.saturating_since(t) >= IDLE_GAP);
        self.last_packet = Some(now);
        if !new_burst {
            return;
        }
        if let Some(p) = self.pending.take()
            && now <= p.poll_until
            && now >= p.wake_at
        {
            self.hits += 1;
        }
        if let Some(prev) = self.last_start {
            let sample = now.saturating_since(prev);
            if sample <= MAX_GAP {
                self.gaps[self.next] = sample.as_nanos() as u64;
                self.next = (self.next + 1) % HISTORY;
                self.filled = (self.filled + 1).min(HISTORY);
            } else {
                self.filled = 0;
            }
            self.learn();
        }
        self.last_start = Some(now);
    }

    /// Group the remembered gaps into recurring ones; a gap seen once is noise. No
    /// candidates when the recurring gaps explain less than three quarters of the history
    /// (irregular traffic) or are too many, or when polling for all of them would exceed
    /// the budget.
    fn learn(&mut self) {
        self.ncand = 0;
        if self.budget_ppm == 0 || self.filled < 3 {
            return;
        }
        let mut g = self.gaps;
        let g = &mut g[..self.filled];
        g.sort_unstable();
        let cluster = CLUSTER.as_nanos() as u64;
        let mut explained = 0;
        let mut i = 0;
        while i < g.len() {
            let mut j = i + 1;
            while j < g.len() && g[j] - g[j - 1] <= cluster {
                j += 1;
            }
            if j - i >= 2 {
                if self.ncand == MAX_CANDIDATES {
                    self.ncand = 0;
                    return;
                }
                let centre = g[i + (j - i) / 2];
                let lead = MIN_LEAD.as_nanos() as u64 + (g[j - 1] - g[i]) / 2;
                self.candidates[self.ncand] = (centre, lead);
                self.ncand += 1;
                explained += j - i;
            }
            i = j;
        }
        let mean = g.iter().sum::<u64>() / g.len() as u64;
        let window: u64 = self.candidates[..self.ncand].iter().map(|c| 2 * c.1).sum();
        if explained * 4 < g.len() * 3
            || u128::from(window) * 1_000_000 > u128::from(mean) * u128::from(self.budget_ppm)
        {
            self.ncand = 0;
        }
    }

    /// About to sleep at `now`: when to wake early, if the next burst is predictable and
    /// polling for it fits the budget. The earliest recurring gap whose window is still
    /// ahead; `None` once all have passed (the worker sleeps until the packet comes).
    pub fn plan(&mut self, now: Instant) -> Option<WakePlan> {
        let start = self.last_start?;
        let plan = self.candidates[..self.ncand]
            .iter()
            .find_map(|&(gap, lead)| {
                let due = start + Duration::from_nanos(gap);
                let poll_until = due + Duration::from_nanos(lead);
                (poll_until > now).then(|| WakePlan {
                    wake_at: Instant::from_nanos(due.as_nanos().saturating_sub(lead)).max(now),
                    poll_until,
                })
            })?;
        if self.pending != Some(plan) {
            self.plans += 1;
        }
        self.pending = Some(plan);
        Some(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(us: u64) -> Instant {
        Instant::from_nanos(us * 1000)
    }

    #[test]
    fn periodic_bursts_are_predicted_and_hit() {
        let mut p = WakePredictor::new(DEFAULT_BUDGET_PPM);
        for i in 0..20u64 {
            let t = 1_000_000 + i * 10_000; // every 10 ms
            p.on_packets(at(t));
            p.on_packets(at(t + 60)); // the reply: same burst
            let plan = p.plan(at(t + 300));
            if i >= 3 {
                let plan = plan.expect("regular gaps are predicted (from the third gap)");
                let next = at(t + 10_000);
                assert!(plan.wake_at < next && next < plan.poll_until, "{plan:?}");
                let window = plan.poll_until.saturating_since(plan.wake_at);
                assert!(
                    window < Duration::from_micros(500),
                    "{window:?} for a 10 ms gap"
                );
            }
        }
        assert!(p.hits >= 15, "hits {} of {} plans", p.hits, p.plans);
    }

    #[test]
    fn irregular_or_rare_traffic_gets_no_plan() {
        let mut p = WakePredictor::new(DEFAULT_BUDGET_PPM);
        let mut t = 0;
        for gap in [10_000, 3_000, 17_000, 1_000, 25_000, 4_000, 12_000] {
            t += gap;
            p.on_packets(at(t));
        }
        assert_eq!(p.plan(at(t + 600)), None, "irregular gaps");
        let mut p = WakePredictor::new(DEFAULT_BUDGET_PPM);
        for i in 0..5 {
            p.on_packets(at(i * 3_000_000)); // every 3 s: over MAX_GAP
        }
        assert_eq!(
            p.plan(at(12_000_600)),
            None,
            "gaps over MAX_GAP are not learned"
        );
        let mut p = WakePredictor::new(DEFAULT_BUDGET_PPM);
        assert_eq!(p.plan(at(1)), None, "nothing seen yet");
    }

    #[test]
    fn the_budget_bounds_the_polling_share() {
        // Every 1 ms with a 400 µs window (2 × MIN_LEAD) is 40 %: over 5 %, no plan;
        // allowed at 50 %.
        let feed = |p: &mut WakePredictor| {
            for i in 0..30u64 {
                p.on_packets(at(i * 1_000));
            }
        };
        let mut p = WakePredictor::new(DEFAULT_BUDGET_PPM);
        feed(&mut p);
        assert_eq!(p.plan(at(29_100)), None);
        let mut p = WakePredictor::new(500_000);
        feed(&mut p);
        assert!(p.plan(at(29_100)).is_some());
        let mut p = WakePredictor::new(0);
        feed(&mut p);
        assert_eq!(p.plan(at(29_100)), None, "budget 0 disables prediction");
    }

    #[test]
    fn a_tick_bound_sender_gets_a_window_at_each_of_its_gaps() {
        // ping -i 0.01 on a 250 Hz kernel: 16 or 20 ms apart (as measured on this machine).
        let mut p = WakePredictor::new(DEFAULT_BUDGET_PPM);
        let mut t = 1_000_000;
        for i in 0..40u64 {
            t += if i % 3 == 0 { 16_000 } else { 20_000 } + (i % 5) * 10;
            p.on_packets(at(t));
        }
        let first = p.plan(at(t + 300)).expect("plans the 16 ms gap first");
        assert!(first.wake_at < at(t + 16_000) && at(t + 16_000) < first.poll_until);
        // Nothing came at 16 ms: the next plan is for 20 ms.
        let second = p.plan(first.poll_until).expect("then the 20 ms gap");
        assert!(second.wake_at < at(t + 20_000) && at(t + 20_000) < second.poll_until);
        assert_eq!(
            p.plan(second.poll_until),
            None,
            "then it sleeps until a packet"
        );
    }
}
