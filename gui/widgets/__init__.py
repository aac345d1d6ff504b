"""Qt widgets that observe a :class:`gui.session.Session` and render it."""
