"""Many samples: sample sheets, Dask orchestration, the cohort store and association statistics."""
