"""Job types of every shape a plugin author may write, and the paths that run them (see ``drive``)."""
