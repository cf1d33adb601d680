"""The experiment queue: durable entries, one backend protocol, supervised workers."""
