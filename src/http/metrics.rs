//! Request counts and latencies by route and status, in Prometheus text format.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error};

use crate::http::AppState;

const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub struct Metrics {
    series: Mutex<HashMap<(String, String, u16), Series>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let s = map.entry((method.to_owned(), route.to_owned(), status)).or_default();
        s.count += 1;
        s.sum += seconds;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                s.buckets[i] += 1;
            }
        }
    }

    pub fn render(&self, pool_size: u32, pool_idle: usize, pool_max: u32) -> String {
        let map = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<_> = map.keys().collect();
        keys.sort();
        let mut out = String::new();
        out.push_str("# HELP rapport_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE rapport_http_requests_total counter\n");
        for k in &keys {
            let s = &map[*k];
            let _ = writeln!(
                out,
                "rapport_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}",
                k.0, k.1, k.2, s.count
            );
        }
        out.push_str("# HELP rapport_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE rapport_http_request_duration_seconds histogram\n");
        for k in &keys {
            let s = &map[*k];
            let labels = format!("method=\"{}\",route=\"{}\",status=\"{}\"", k.0, k.1, k.2);
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "rapport_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(out, "rapport_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "rapport_http_request_duration_seconds_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "rapport_http_request_duration_seconds_count{{{labels}}} {}", s.count);
        }
        out.push_str("# HELP rapport_db_pool_connections Database pool connections by state.\n");
        out.push_str("# TYPE rapport_db_pool_connections gauge\n");
        let _ = writeln!(out, "rapport_db_pool_connections{{state=\"idle\"}} {pool_idle}");
        let _ = writeln!(
            out,
            "rapport_db_pool_connections{{state=\"in_use\"}} {}",
            (pool_size as usize).saturating_sub(pool_idle)
        );
        let _ = writeln!(out, "rapport_db_pool_connections{{state=\"max\"}} {pool_max}");
        out
    }
}

pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    // As the client sent it: a HEAD is routed as a GET further in.
    let method = req.method().clone();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
        state.metrics.observe(method.as_str(), &route, res.status().as_u16(), started.elapsed().as_secs_f64());
    }
    Ok(res)
}
