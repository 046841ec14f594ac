"""Operation Encompass: notices to a child's school after domestic abuse, the school directory and
roll, the per-school inbox and acknowledgements, and the e-mail to the safeguarding lead."""
