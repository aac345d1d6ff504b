"""Qt widgets that observe a :class:`gui.model.session.Session` and render it."""
