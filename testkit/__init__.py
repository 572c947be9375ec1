"""What the tests and the benchmarks share: fake servers of the services Frontdesk calls
(`testkit/fakes/`), Slack requests signed as Slack signs them, and bulk seeding."""
