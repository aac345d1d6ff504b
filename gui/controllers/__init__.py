"""Window behaviour that runs over time: scripts in a worker thread, the training timer,
autosave and crash recovery.  Each controller is a QObject owned by the main window."""
