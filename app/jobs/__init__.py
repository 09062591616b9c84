"""Background jobs: a durable queue (Huey), the job rows the pages show, the schedules that run
themselves, and the sweeper that notices a worker that died."""
