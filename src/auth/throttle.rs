//! Login throttling: too many failures for one email or one client address within the window
//! answers `429` with `Retry-After` until the window passes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginThrottle {
    max_per_email: u32,
    max_per_ip: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    pub fn new(max_per_email: u32, max_per_ip: u32, window: Duration) -> Self {
        LoginThrottle { max_per_email, max_per_ip, window, failures: Mutex::new(HashMap::new()) }
    }

    fn keys(email: &str, ip: &str) -> [(String, bool); 2] {
        [(format!("email:{}", email.to_lowercase()), true), (format!("ip:{ip}"), false)]
    }

    /// `Err(seconds)` when this email or address must wait.
    pub fn check(&self, email: &str, ip: &str) -> Result<(), u64> {
        let now = Instant::now();
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let mut wait = None;
        for (key, is_email) in Self::keys(email, ip) {
            let max = if is_email { self.max_per_email } else { self.max_per_ip };
            if let Some((count, started)) = map.get(&key) {
                let elapsed = now.duration_since(*started);
                if *count >= max && elapsed < self.window {
                    let secs = (self.window - elapsed).as_secs().max(1);
                    wait = Some(wait.map_or(secs, |w: u64| w.max(secs)));
                }
            }
        }
        wait.map_or(Ok(()), Err)
    }

    pub fn record_failure(&self, email: &str, ip: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            let window = self.window;
            map.retain(|_, (_, started)| now.duration_since(*started) < window);
        }
        for (key, _) in Self::keys(email, ip) {
            let entry = map.entry(key).or_insert((0, now));
            if now.duration_since(entry.1) >= self.window {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    /// A successful login clears the email's failures (not the address's).
    pub fn record_success(&self, email: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&format!("email:{}", email.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_per_email() {
        let t = LoginThrottle::new(3, 100, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(t.check("A@x.io", "1.2.3.4").is_ok());
            t.record_failure("a@x.io", "1.2.3.4");
        }
        let wait = t.check("a@X.io", "9.9.9.9").unwrap_err();
        assert!(wait > 0 && wait <= 60);
        assert!(t.check("other@x.io", "1.2.3.4").is_ok(), "the address is under its own limit");
        t.record_success("a@x.io");
        assert!(t.check("a@x.io", "1.2.3.4").is_ok());
    }

    #[test]
    fn blocks_after_max_failures_per_address() {
        let t = LoginThrottle::new(100, 2, Duration::from_secs(60));
        t.record_failure("a@x.io", "1.2.3.4");
        t.record_failure("b@x.io", "1.2.3.4");
        assert!(t.check("c@x.io", "1.2.3.4").is_err());
        assert!(t.check("c@x.io", "5.6.7.8").is_ok());
    }

    #[test]
    fn window_expires() {
        let t = LoginThrottle::new(1, 100, Duration::from_millis(30));
        t.record_failure("a@x.io", "ip");
        assert!(t.check("a@x.io", "ip").is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(t.check("a@x.io", "ip").is_ok());
    }
}
