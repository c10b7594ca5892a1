"""The evaluate stage: the figures of a split (`metrics`), a model folder scored on data (`evaluate`), threshold tuning (`threshold`) and the `evaluate` command (`cli`)."""
