//! Per-client-IP state: token bucket, in-flight slots and the failed-auth ban.
//!
//! The ban counts *distinct* wrong credentials: a client that retries the same
//! stale token (Codex retries a 401 five times) guesses nothing, and counting
//! its retries would lock every local client out of a loopback relay.
//!
//! One bounded map holds everything known about an IP. Entries expire when idle
//! (full bucket, nothing in flight, no failures, no ban) and the map never holds
//! more than [`MAX_TRACKED_IPS`] entries: at capacity an idle entry is evicted,
//! and banned entries go last so flooding from many addresses can't lift a ban
//! cheaply.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::config::SecurityConfig;

/// Upper bound on IPs tracked at once (about 100 bytes each).
pub(crate) const MAX_TRACKED_IPS: usize = 4096;

#[derive(Debug, Clone)]
pub(crate) struct LimitSettings {
    pub(crate) per_minute: u32,
    pub(crate) burst: u32,
    pub(crate) concurrent: u32,
    pub(crate) max_failures: u32,
    pub(crate) failure_window: Duration,
    pub(crate) block: Duration,
}

impl From<&SecurityConfig> for LimitSettings {
    fn from(s: &SecurityConfig) -> LimitSettings {
        LimitSettings {
            per_minute: s.rate_limit_per_minute,
            burst: s.rate_limit_burst,
            concurrent: s.concurrent_requests_per_ip,
            max_failures: s.failed_auth_max_attempts,
            failure_window: Duration::from_secs(s.failed_auth_window_seconds),
            block: Duration::from_secs(s.failed_auth_block_seconds),
        }
    }
}

#[derive(Debug)]
struct IpState {
    tokens: f64,
    refilled: Instant,
    in_flight: u32,
    /// When each distinct wrong credential was first seen in the window, with
    /// its fingerprint.
    failures: VecDeque<(Instant, u64)>,
    banned_until: Option<Instant>,
    last_seen: Instant,
}

impl IpState {
    fn new(now: Instant, burst: u32) -> IpState {
        IpState {
            tokens: f64::from(burst),
            refilled: now,
            in_flight: 0,
            failures: VecDeque::new(),
            banned_until: None,
            last_seen: now,
        }
    }

    fn refill(&mut self, now: Instant, s: &LimitSettings) {
        let rate = f64::from(s.per_minute) / 60.0;
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(f64::from(s.burst));
        self.refilled = now;
    }

    fn idle(&mut self, now: Instant, s: &LimitSettings) -> bool {
        self.refill(now, s);
        self.prune_failures(now, s);
        let banned = self.banned_until.is_some_and(|t| t > now);
        self.in_flight == 0
            && !banned
            && self.failures.is_empty()
            && self.tokens >= f64::from(s.burst)
    }

    fn prune_failures(&mut self, now: Instant, s: &LimitSettings) {
        while self
            .failures
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > s.failure_window)
        {
            self.failures.pop_front();
        }
    }
}

/// Shared limiter for all connections.
pub(crate) struct IpLimits {
    settings: LimitSettings,
    map: Mutex<HashMap<IpAddr, IpState>>,
}

/// Holds one in-flight slot of an IP until dropped (a stream keeps it to its end).
pub(crate) struct SlotGuard {
    limits: Arc<IpLimits>,
    ip: IpAddr,
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let mut map = self.limits.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(st) = map.get_mut(&self.ip) {
            st.in_flight = st.in_flight.saturating_sub(1);
        }
    }
}

/// A short digest of a presented credential, so the map never holds the value.
fn credential_fingerprint(presented: Option<&[u8]>) -> u64 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    match presented {
        None => h.update([0u8]),
        Some(v) => {
            h.update([1u8]);
            h.update(v);
        }
    }
    let d = h.finalize();
    u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// The identity limits and bans apply to: every loopback address (`127.0.0.0/8`,
/// `::1`, IPv4-mapped `::ffff:127.0.0.0/104`) is one identity, since any local
/// user can pick any of them; otherwise an IPv4 address, or the /64 of an IPv6
/// address (one host usually owns a whole /64 and can pick any address in it, so a
/// per-address ban would be lifted by changing address).
pub(crate) fn limit_key(ip: IpAddr) -> IpAddr {
    if is_loopback_ip(ip) {
        return IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    }
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
        other => other,
    }
}

/// Loopback, including the IPv4-mapped form (`Ipv6Addr::is_loopback` is false for
/// `::ffff:127.0.0.1`).
pub(crate) fn is_loopback_ip(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl IpLimits {
    pub(crate) fn new(settings: LimitSettings) -> Arc<IpLimits> {
        Arc::new(IpLimits {
            settings,
            map: Mutex::new(HashMap::new()),
        })
    }

    fn with_state<R>(
        &self,
        ip: IpAddr,
        f: impl FnOnce(&mut IpState, Instant, &LimitSettings) -> R,
    ) -> R {
        let ip = limit_key(ip);
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(&ip) && map.len() >= MAX_TRACKED_IPS {
            Self::evict(&mut map, now, &self.settings);
        }
        let st = map
            .entry(ip)
            .or_insert_with(|| IpState::new(now, self.settings.burst));
        st.last_seen = now;
        f(st, now, &self.settings)
    }

    fn evict(map: &mut HashMap<IpAddr, IpState>, now: Instant, s: &LimitSettings) {
        map.retain(|_, st| !st.idle(now, s));
        if map.len() < MAX_TRACKED_IPS {
            return;
        }
        let victim = map
            .iter()
            .filter(|(_, st)| st.in_flight == 0)
            .min_by_key(|(_, st)| (st.banned_until.is_some_and(|t| t > now), st.last_seen))
            .map(|(ip, _)| *ip);
        if let Some(ip) = victim {
            map.remove(&ip);
        }
    }

    /// `Err(seconds)` while the IP is banned.
    pub(crate) fn check_ban(&self, ip: IpAddr) -> Result<(), u64> {
        self.with_state(ip, |st, now, _| match st.banned_until {
            Some(until) if until > now => Err(ceil_secs(until - now).max(1)),
            _ => Ok(()),
        })
    }

    /// Counts a failed authentication with the `Authorization` value presented
    /// (`None` when there was none). A value already counted within the window is
    /// a retry, not a guess, and is not counted again; the N-th distinct value
    /// within the window starts a ban.
    pub(crate) fn record_auth_failure(&self, ip: IpAddr, presented: Option<&[u8]>) {
        let fingerprint = credential_fingerprint(presented);
        self.with_state(ip, |st, now, s| {
            st.prune_failures(now, s);
            if st.failures.iter().any(|(_, f)| *f == fingerprint) {
                return;
            }
            st.failures.push_back((now, fingerprint));
            while st.failures.len() > s.max_failures as usize {
                st.failures.pop_front();
            }
            if st.failures.len() >= s.max_failures as usize {
                st.banned_until = Some(now + s.block);
                st.failures.clear();
                tracing::warn!(client_ip = %ip, block_seconds = s.block.as_secs(), "too many invalid relay tokens; IP blocked");
            }
        })
    }

    /// Takes one token from the bucket, or `Err(seconds until one is available)`.
    pub(crate) fn take_token(&self, ip: IpAddr) -> Result<(), u64> {
        self.with_state(ip, |st, now, s| {
            st.refill(now, s);
            if st.tokens >= 1.0 {
                st.tokens -= 1.0;
                Ok(())
            } else {
                let rate = f64::from(s.per_minute) / 60.0;
                Err(((1.0 - st.tokens) / rate).ceil().max(1.0) as u64)
            }
        })
    }

    /// Takes an in-flight slot, or `None` at the per-IP cap.
    pub(crate) fn acquire_slot(self: &Arc<Self>, ip: IpAddr) -> Option<SlotGuard> {
        let ok = self.with_state(ip, |st, _, s| {
            if st.in_flight < s.concurrent {
                st.in_flight += 1;
                true
            } else {
                false
            }
        });
        ok.then(|| SlotGuard {
            limits: Arc::clone(self),
            ip: limit_key(ip),
        })
    }

    /// Removes idle entries (run periodically).
    pub(crate) fn sweep(&self) {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, st| !st.idle(now, &self.settings));
    }

    pub(crate) fn tracked(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Slots held across all IPs.
    pub(crate) fn held_slots(&self) -> u64 {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.values().map(|s| u64::from(s.in_flight)).sum()
    }

    /// The caller's own state, for `/v1/relay/status`.
    pub(crate) fn describe(&self, ip: IpAddr) -> Value {
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(&limit_key(ip)) {
            None => {
                json!({"ip": ip.to_string(), "tokens_available": self.settings.burst, "in_flight": 0, "recent_auth_failures": 0, "blocked_for_seconds": 0})
            }
            Some(st) => {
                st.refill(now, &self.settings);
                st.prune_failures(now, &self.settings);
                json!({
                    "ip": ip.to_string(),
                    "tokens_available": st.tokens.floor() as u64,
                    "in_flight": st.in_flight,
                    "recent_auth_failures": st.failures.len(),
                    "blocked_for_seconds": st.banned_until.filter(|t| *t > now).map(|t| ceil_secs(t - now)).unwrap_or(0),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> LimitSettings {
        LimitSettings {
            per_minute: 60,
            burst: 3,
            concurrent: 2,
            max_failures: 3,
            failure_window: Duration::from_secs(300),
            block: Duration::from_secs(900),
        }
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn bucket_allows_burst_then_asks_to_wait() {
        let l = IpLimits::new(settings());
        for _ in 0..3 {
            assert!(l.take_token(ip(1)).is_ok());
        }
        assert_eq!(l.take_token(ip(1)), Err(1));
        assert!(
            l.take_token(ip(2)).is_ok(),
            "other IPs have their own bucket"
        );
    }

    #[test]
    fn slots_are_released_on_drop() {
        let l = IpLimits::new(settings());
        let a = l.acquire_slot(ip(1)).unwrap();
        let _b = l.acquire_slot(ip(1)).unwrap();
        assert!(l.acquire_slot(ip(1)).is_none());
        assert_eq!(l.held_slots(), 2);
        drop(a);
        assert!(l.acquire_slot(ip(1)).is_some());
    }

    #[test]
    fn failures_start_a_ban() {
        let l = IpLimits::new(settings());
        l.record_auth_failure(ip(1), Some(b"Bearer a"));
        l.record_auth_failure(ip(1), None);
        assert!(l.check_ban(ip(1)).is_ok());
        l.record_auth_failure(ip(1), Some(b"Bearer c"));
        let secs = l.check_ban(ip(1)).unwrap_err();
        assert!(secs > 890 && secs <= 900, "{secs}");
        assert!(l.check_ban(ip(2)).is_ok());
        assert_eq!(l.describe(ip(1))["blocked_for_seconds"], secs);
    }

    #[test]
    fn the_map_stays_bounded_and_keeps_bans() {
        let l = IpLimits::new(settings());
        for n in 0..3 {
            l.record_auth_failure(ip(0), Some(format!("Bearer {n}").as_bytes()));
        }
        let _held = l.acquire_slot(ip(5)).unwrap();
        for n in 10..(MAX_TRACKED_IPS as u32 + 500) {
            let _ = l.take_token(ip(n));
        }
        assert!(l.tracked() <= MAX_TRACKED_IPS);
        assert!(
            l.check_ban(ip(0)).is_err(),
            "a ban survives a flood of new IPs"
        );
        assert_eq!(l.held_slots(), 1, "an in-flight slot is never evicted");
    }

    #[test]
    fn retrying_the_same_wrong_token_is_not_a_guess() {
        let l = IpLimits::new(settings());
        for _ in 0..10 {
            l.record_auth_failure(ip(1), Some(b"Bearer stale"));
            l.record_auth_failure(ip(1), None);
        }
        assert!(l.check_ban(ip(1)).is_ok());
        assert_eq!(l.describe(ip(1))["recent_auth_failures"], 2);
        l.record_auth_failure(ip(1), Some(b"Bearer other"));
        assert!(l.check_ban(ip(1)).is_err());
    }

    #[test]
    fn an_ipv6_ban_covers_the_whole_64() {
        let l = IpLimits::new(settings());
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        for n in 0..3 {
            l.record_auth_failure(a, Some(format!("Bearer guess-{n}").as_bytes()));
        }
        for other in ["2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"] {
            assert!(l.check_ban(other.parse().unwrap()).is_err(), "{other}");
        }
        assert!(l.check_ban("2001:db8:1:3::1".parse().unwrap()).is_ok());
        assert!(l.check_ban("::1".parse().unwrap()).is_ok());
        let slot = l.acquire_slot("2001:db8:1:2::7".parse().unwrap()).unwrap();
        assert_eq!(l.describe(a)["in_flight"], 1);
        drop(slot);
        assert_eq!(l.held_slots(), 0);
    }

    #[test]
    fn every_loopback_address_is_one_identity() {
        let l = IpLimits::new(settings());
        for n in 0..3 {
            let from: IpAddr = "127.0.0.2".parse().unwrap();
            l.record_auth_failure(from, Some(format!("Bearer guess-{n}").as_bytes()));
        }
        for other in [
            "127.0.0.1",
            "127.0.0.3",
            "127.255.0.9",
            "::1",
            "::ffff:127.0.0.9",
        ] {
            assert!(l.check_ban(other.parse().unwrap()).is_err(), "{other}");
        }
        assert!(l.check_ban("10.0.0.1".parse().unwrap()).is_ok());
        assert!(l.check_ban("::ffff:10.0.0.1".parse().unwrap()).is_ok());
        assert_eq!(
            l.tracked(),
            2,
            "one loopback entry, one for 10.0.0.1 in both forms"
        );
    }

    #[test]
    fn idle_entries_are_swept() {
        let l = IpLimits::new(settings());
        drop(l.acquire_slot(ip(1)));
        l.sweep();
        assert_eq!(l.tracked(), 0);
        l.take_token(ip(2)).unwrap();
        l.sweep();
        assert_eq!(
            l.tracked(),
            1,
            "a drained bucket is remembered until it refills"
        );
    }
}
