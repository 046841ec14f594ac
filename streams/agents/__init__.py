"""Faust agents, one module per stage; each is thin and calls a plain handler in a thread."""
