"""The lab's model, free of Qt: configuration, graph views, the stepped backward pass,
training, files and the :class:`~gui.model.session.Session` that ties them together."""
