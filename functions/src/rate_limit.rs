//! Token bucket for packets a function generates (ICMP errors, TCP resets): RFC 1812
//! §4.3.2.8 asks routers to rate-limit ICMP errors, RFC 5508 REQ-9 lets a NAT police them.

use nfv_dataplane::Instant;

/// `rate` tokens per second, at most `burst` saved up; starts full. Integer arithmetic, time
/// passed in, so it is exact in tests.
#[derive(Debug)]
pub struct TokenBucket {
    rate: u64,
    burst: u64,
    tokens: u64,
    last: Option<Instant>,
}

impl TokenBucket {
    /// A full bucket. `rate` 0 never gives a token; `burst` is at least 1.
    pub fn new(rate: u32, burst: u32) -> TokenBucket {
        let burst = u64::from(burst.max(1));
        TokenBucket {
            rate: u64::from(rate),
            burst,
            tokens: burst,
            last: None,
        }
    }

    /// Take one token at `now` if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        if self.rate == 0 {
            return false;
        }
        match self.last {
            None => self.last = Some(now),
            Some(last) => {
                let ns = u128::from(now.as_nanos().saturating_sub(last.as_nanos()));
                let add = ns * u128::from(self.rate) / 1_000_000_000;
                if add > 0 {
                    self.tokens =
                        (self.tokens + add.min(u128::from(self.burst)) as u64).min(self.burst);
                    // Advance only by the time that produced whole tokens.
                    let used = add * 1_000_000_000 / u128::from(self.rate);
                    self.last = Some(Instant::from_nanos(last.as_nanos() + used as u64));
                }
            }
        }
        if self.tokens > 0 {
            self.tokens -= 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_gives_burst_then_rate() {
        let mut b = TokenBucket::new(2, 3);
        let t0 = Instant::from_secs(10);
        assert_eq!((0..5).filter(|_| b.take(t0)).count(), 3, "the burst");
        assert!(
            !b.take(t0 + std::time::Duration::from_millis(400)),
            "0.8 token: none"
        );
        assert!(
            b.take(t0 + std::time::Duration::from_millis(500)),
            "one token after 0.5 s"
        );
        assert!(!TokenBucket::new(0, 5).take(t0), "rate 0 never sends");
    }
}
