//! Prometheus metrics: requests by route and status with latency
//! histograms, failed logins, open WebSockets, database pool usage, and log
//! lines dropped.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// The service's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    login_failures: Counter,
    open_websockets: Gauge,
    pool_connections: Gauge,
    pool_idle: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sesame");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        let login_failures = Counter::default();
        let open_websockets = Gauge::default();
        let pool_connections = Gauge::default();
        let pool_idle = Gauge::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "login_failures",
            "Refused logins (wrong credentials or one-time code)",
            login_failures.clone(),
        );
        registry.register(
            "open_websockets",
            "Open WebSockets",
            open_websockets.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database connections held by the pool",
            pool_connections.clone(),
        );
        registry.register(
            "db_pool_idle",
            "Idle database connections",
            pool_idle.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            login_failures,
            open_websockets,
            pool_connections,
            pool_idle,
        }
    }

    /// The same metrics, with `sesame_log_lines_dropped_total` read from
    /// `dropped` at each scrape (the lines a lagging log reader lost).
    pub fn counting_dropped_log_lines(mut self, dropped: fn() -> u64) -> Self {
        self.registry
            .register_collector(Box::new(DroppedLogLines(dropped)));
        self
    }

    /// Counts a refused login.
    pub fn login_failed(&self) {
        self.login_failures.inc();
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// The text exposition, with the gauges read now.
    pub fn render(&self, websockets: usize, pool: (u32, u32)) -> String {
        self.open_websockets.set(websockets as i64);
        self.pool_connections.set(i64::from(pool.0));
        self.pool_idle.set(i64::from(pool.1));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// The log lines dropped so far, as a counter read when scraped.
#[derive(Debug)]
struct DroppedLogLines(fn() -> u64);

impl Collector for DroppedLogLines {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let dropped = ConstCounter::new((self.0)());
        let help = "Log lines dropped because the reader of stderr lagged";
        let metric =
            encoder.encode_descriptor("log_lines_dropped", help, None, dropped.metric_type())?;
        dropped.encode(metric)
    }
}

/// The `method` label: the standard methods by name, any other token as
/// `other` (clients choose method tokens; label values must stay few).
fn method_label(method: &Method) -> &'static str {
    [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
        Method::OPTIONS,
    ]
    .iter()
    .find(|known| *known == method)
    .map_or("other", Method::as_str)
}

/// Counts every request by its route pattern (never the raw path: no ids or
/// tokens in label values) and status, with its latency.
pub async fn track(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(request.method());
    let metrics = request
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let response = next.call(request).await?;
    if let Some(metrics) = metrics {
        let route = response
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        metrics.observe(
            method,
            &route,
            response.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let metrics = Metrics::new();
        metrics.observe("GET", "/auth/users/{id}/", 200, 0.003);
        metrics.observe("GET", "/auth/users/{id}/", 200, 0.004);
        metrics.login_failed();
        let text = metrics.render(3, (8, 5));
        assert!(text.contains(
            r#"sesame_http_requests_total{method="GET",route="/auth/users/{id}/",status="200"} 2"#
        ));
        assert!(text.contains("sesame_http_request_duration_seconds_bucket"));
        assert!(text.contains("sesame_login_failures_total 1"));
        assert!(text.contains("sesame_open_websockets 3"));
        assert!(text.contains("sesame_db_pool_connections 8"));
        assert!(text.contains("sesame_db_pool_idle 5"));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::OPTIONS), "OPTIONS");
        for token in ["FOOBAR", "PROPFIND", "get"] {
            assert_eq!(
                method_label(&Method::from_bytes(token.as_bytes()).unwrap()),
                "other"
            );
        }
    }
}
