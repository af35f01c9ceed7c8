"""The answer as a DAW session: B as clips into the memory's audio (``clips``), the audio files they
point to (``media``), and the session formats (``dawproject``, ``reaper``); ``session`` writes them."""
