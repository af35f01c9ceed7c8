"""``countertrack live``: JACK audio in and out, MIDI control, the real-time callback."""
