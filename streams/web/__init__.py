"""The HTTP side, split by audience: operators (dashboard, metrics), health (the flag lookup) and
schools (the Operation Encompass inbox), with bearer tokens."""
