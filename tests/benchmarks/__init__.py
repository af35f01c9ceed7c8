"""The benchmark scripts run at toy sizes."""
