"""The child protection register, CP-IS style: flags per child and authority, unscheduled-care
accesses, referrals awaiting outcomes, snapshot reconciliation, and the health flag lookup."""
