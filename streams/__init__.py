"""The stream-processing side of the pipeline, one folder per concept: ``sharing`` (who gets what),
``deadlines`` (which deadline), ``register``, ``encompass``, ``identity`` and ``access`` (the domain);
``pipeline`` (the units of work); ``kafka``, ``runtime`` and ``web`` (the plumbing and the shell). At the
top: the one settings object, the one clock, the services builder and the command line."""
