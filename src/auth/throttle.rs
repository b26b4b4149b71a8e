//! Login throttling: repeated failed logins slow down, per (username, client address) and per
//! client address, with a few free failures and then an exponential back-off.
//!
//! Never per username alone: that would let a stranger lock a user out from anywhere. A
//! stranger can only slow down the addresses they send from. Attempts are counted when they
//! start (so a burst of parallel guesses gets no more than the free ones) and a success takes
//! its own count back and clears its (username, address) entry.
//!
//! The state is in this process, in a bounded map: with several instances behind a balancer,
//! each throttles on its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failed attempts per (username, address) before the back-off starts.
    pub free_per_user: u32,
    /// Failed attempts per address, whatever the username, before the back-off starts.
    pub free_per_address: u32,
    /// The first wait; each further failure doubles it.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// An entry without attempts for this long is forgotten.
    pub forget_after: Duration,
    /// Entries kept at most; idle ones are pruned first, then the oldest.
    pub max_entries: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            free_per_user: 5,
            free_per_address: 20,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(60 * 60),
            max_entries: 100_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String, IpAddr),
    Address(IpAddr),
}

struct Entry {
    attempts: u32,
    last: Instant,
}

pub struct LoginThrottle {
    policy: Policy,
    entries: Mutex<HashMap<Key, Entry>>,
}

/// A login attempt that was let through; hand it back to [`LoginThrottle::succeeded`] when the
/// password was right. Dropped otherwise: it stays counted as a failure.
pub struct Attempt {
    user: Key,
    address: Key,
}

impl LoginThrottle {
    pub fn new(policy: Policy) -> LoginThrottle {
        LoginThrottle {
            policy,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Lets an attempt for `username` from `client` through and counts it, or refuses it with
    /// `Error::TooManyAttempts` while that username at that address, or that address, is
    /// waiting out its back-off.
    pub fn begin(&self, username: &str, client: IpAddr) -> Result<Attempt> {
        self.begin_at(username, client, Instant::now())
    }

    fn begin_at(&self, username: &str, client: IpAddr, now: Instant) -> Result<Attempt> {
        let address = Key::Address(group(client));
        let user = Key::User(username.trim().to_lowercase(), group(client));
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let wait = [
            (&user, self.policy.free_per_user),
            (&address, self.policy.free_per_address),
        ]
        .into_iter()
        .filter_map(|(key, free)| self.wait(entries.get(key)?, free, now))
        .max();
        if let Some(wait) = wait {
            return Err(Error::TooManyAttempts {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            });
        }
        if entries.len() + 2 > self.policy.max_entries {
            self.make_room(&mut entries, now);
        }
        for key in [&user, &address] {
            let entry = entries.entry(key.clone()).or_insert(Entry {
                attempts: 0,
                last: now,
            });
            if now.duration_since(entry.last) > self.policy.forget_after {
                entry.attempts = 0;
            }
            entry.attempts += 1;
            entry.last = now;
        }
        Ok(Attempt { user, address })
    }

    /// The password was right: the (username, address) entry is cleared and the address's
    /// count gives this attempt back.
    pub fn succeeded(&self, attempt: Attempt) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&attempt.user);
        if let Some(entry) = entries.get_mut(&attempt.address) {
            entry.attempts = entry.attempts.saturating_sub(1);
        }
    }

    /// How long an entry with `free` free attempts must still wait, if at all.
    fn wait(&self, entry: &Entry, free: u32, now: Instant) -> Option<Duration> {
        let idle = now.duration_since(entry.last);
        if entry.attempts < free || idle > self.policy.forget_after {
            return None;
        }
        let doublings = (entry.attempts - free).min(30);
        let delay = self
            .policy
            .first_delay
            .saturating_mul(1 << doublings)
            .min(self.policy.max_delay);
        delay.checked_sub(idle).filter(|d| !d.is_zero())
    }

    /// Drops idle entries and, if the map is still full, the older half.
    fn make_room(&self, entries: &mut HashMap<Key, Entry>, now: Instant) {
        entries.retain(|_, e| now.duration_since(e.last) <= self.policy.forget_after);
        if entries.len() + 2 > self.policy.max_entries {
            let mut ages: Vec<Instant> = entries.values().map(|e| e.last).collect();
            let middle = ages.len() / 2;
            let (_, cut, _) = ages.select_nth_unstable(middle);
            let cut = *cut;
            entries.retain(|_, e| e.last > cut);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

/// IPv6 clients are grouped by their /64 (one subscriber's network), so rotating addresses
/// within it does not reset the count.
fn group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn retry_after(r: Result<Attempt>) -> u64 {
        match r {
            Err(Error::TooManyAttempts { retry_after_secs }) => retry_after_secs,
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("attempt let through"),
        }
    }

    #[test]
    fn failures_back_off_exponentially_after_the_free_ones() {
        let t = LoginThrottle::new(Policy::default());
        let start = Instant::now();
        for _ in 0..5 {
            t.begin_at("alice", ip("10.0.0.1"), start).unwrap();
        }
        assert_eq!(retry_after(t.begin_at("Alice ", ip("10.0.0.1"), start)), 1);
        let later = start + Duration::from_secs(1);
        t.begin_at("alice", ip("10.0.0.1"), later).unwrap();
        assert_eq!(retry_after(t.begin_at("alice", ip("10.0.0.1"), later)), 2);
        // Refused attempts do not count: the wait is the same a moment later.
        let soon = later + Duration::from_millis(500);
        assert_eq!(retry_after(t.begin_at("alice", ip("10.0.0.1"), soon)), 2);
        // Another address is not affected, nor is another user at the same address.
        t.begin_at("alice", ip("10.0.0.2"), later).unwrap();
        t.begin_at("bob", ip("10.0.0.1"), later).unwrap();
        // After an idle hour everything is forgotten.
        let next_day = later + Duration::from_secs(3601);
        t.begin_at("alice", ip("10.0.0.1"), next_day).unwrap();
    }

    #[test]
    fn a_success_clears_the_user_and_gives_the_address_its_attempt_back() {
        let t = LoginThrottle::new(Policy::default());
        let now = Instant::now();
        for _ in 0..4 {
            t.begin_at("alice", ip("10.0.0.1"), now).unwrap();
        }
        let ok = t.begin_at("alice", ip("10.0.0.1"), now).unwrap();
        t.succeeded(ok);
        for _ in 0..5 {
            t.begin_at("alice", ip("10.0.0.1"), now).unwrap();
        }
        // Many users logging in successfully from one address (an office) never trip it.
        for i in 0..100 {
            let a = t
                .begin_at(&format!("user{i}"), ip("10.0.0.9"), now)
                .unwrap();
            t.succeeded(a);
        }
        t.begin_at("someone", ip("10.0.0.9"), now).unwrap();
    }

    #[test]
    fn one_address_guessing_many_usernames_is_slowed_down() {
        let t = LoginThrottle::new(Policy::default());
        let now = Instant::now();
        for i in 0..20 {
            t.begin_at(&format!("user{i}"), ip("10.0.0.1"), now)
                .unwrap();
        }
        assert_eq!(retry_after(t.begin_at("user99", ip("10.0.0.1"), now)), 1);
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        let t = LoginThrottle::new(Policy::default());
        let now = Instant::now();
        for i in 1..=5 {
            t.begin_at("alice", ip(&format!("2001:db8:1:2::{i}")), now)
                .unwrap();
        }
        retry_after(t.begin_at("alice", ip("2001:db8:1:2:ffff::1"), now));
        t.begin_at("alice", ip("2001:db8:1:3::1"), now).unwrap();
        assert_eq!(group(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
    }

    #[test]
    fn the_map_stays_bounded() {
        let t = LoginThrottle::new(Policy {
            max_entries: 100,
            ..Policy::default()
        });
        let start = Instant::now();
        for i in 0..1000u32 {
            let at = start + Duration::from_millis(u64::from(i));
            t.begin_at("alice", IpAddr::from(i.to_be_bytes()), at)
                .unwrap();
            assert!(t.len() <= 100);
        }
    }
}
