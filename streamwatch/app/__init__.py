"""App: wiring the parts of a configuration into running pipelines."""
