"""Pipeline stages: I/O and tracking around one library call each."""
