"""Which deadline: every timed and counting rule (``deadline_rules.toml``, data, versioned), the watch
that opens, meets and breaches them, working time and school calendars."""
