"""Files in and out: audio, MIDI, corpora, atomic outputs, the cache, input checks, clean stops."""
