"""Train ▸ Pause: a QTimer that runs training steps at the speed the slider sets."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QStyle

from gui.i18n import tr

if TYPE_CHECKING:  # the window owns this controller and imports this module
    from gui.main_window import MainWindow

MAX_REDRAWS_PER_S = 20


class Trainer(QObject):
    """Drives ``session.train`` from a timer while the window's Train action is checked."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._win = window
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.tick)

    def interval(self) -> tuple[int, int]:
        """(timer interval in ms, steps per tick): at most 20 redraws per second."""
        rate = max(1, self._win.speed.value())
        interval = max(1000 // MAX_REDRAWS_PER_S, int(1000 / rate))
        return interval, max(1, round(rate * interval / 1000))

    def speed_changed(self, v: int) -> None:
        """Show the new speed and apply it to the running timer."""
        self._win.speed_label.setText(tr("{n} steps/s", n=v))
        self.timer.setInterval(self.interval()[0])

    def toggled(self) -> None:
        """Start or pause, following the Train action's checked state."""
        win = self._win
        on = win.act_train.isChecked()
        sp = QStyle.StandardPixmap
        win.act_train.setIcon(win.style().standardIcon(sp.SP_MediaPause if on
                                                       else sp.SP_MediaPlay))
        win.act_train.setText(tr("Pause") if on else tr("Train"))
        if on:
            win.banner.hide()
            self.timer.setInterval(self.interval()[0])
            self.timer.start()
            win.log.add(tr("Training started."))
        else:
            self.timer.stop()
            if win.session.losses:
                win.log.add(tr("Training paused; loss = {loss:.5f}.",
                               loss=win.session.losses[-1]))

    def pause(self) -> None:
        """Stop training if it runs (an error, Reset, a failed step)."""
        if self._win.act_train.isChecked():
            self._win.act_train.setChecked(False)
            self.toggled()

    def tick(self) -> None:
        """One timer tick: a few training steps; a refusal pauses."""
        if self._win.session.train(self.interval()[1]) is None:
            self._win.act_train.setChecked(False)
            self.toggled()
