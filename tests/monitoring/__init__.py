"""Monitoring: Prometheus config, rules, the Grafana dashboard and /metrics, checked with the real tools."""
