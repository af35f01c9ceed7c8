"""The ``countertrack`` command line: parse arguments, call one library function, report."""
