"""Metric definitions shared by the hub and connectors, plus Prometheus and Grafana configuration."""
