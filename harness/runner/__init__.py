"""The replay runner: schedules Trials, runs each end to end, records results."""
