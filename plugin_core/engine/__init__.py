"""The grain engine: the memory of B recordings, its grain table, and how grains are chosen and laid."""
