"""Customer models: RFM segments, clusters, lifetime value, churn."""
