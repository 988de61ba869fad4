"""The app's pieces that need no browser: the language line under each reply."""

from __future__ import annotations

from playground.chat import _text, language_line


def test_language_line_flags_a_switch():
    same = language_line("Wie spät ist es?", "Es ist drei Uhr nachmittags.")
    assert "German (`de`" in same and "same language" in same
    switch = language_line("Wie spät ist es?", "It is three o'clock in the afternoon.")
    assert "English (`en`" in switch and "language switch" in switch


def test_language_line_without_language():
    assert "no language detected" in language_line("Was ist 2+2?", "4")


def test_message_parts_become_text():
    assert _text([{"type": "text", "text": "Hallo "}, {"type": "text", "text": "Welt"}]) == "Hallo Welt"
    assert _text("plain") == "plain"
