"""The units of work, as plain functions tested without Faust: intake (validate, record, forward or
park), routing (resolve, apply state, plan, deliver, in one transaction) and the deadline timer."""
