"""Identity resolution: who is who across police, health, school and local-authority records."""
