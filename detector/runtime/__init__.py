"""The running program: assembling a system from settings (`assembly`), and the long-running `detector run`
service built on it (`live` loop, its `metrics` endpoint, its `settings`)."""
