"""Who is calling and what they may do: bearer tokens per organisation and role, stored hashed."""
