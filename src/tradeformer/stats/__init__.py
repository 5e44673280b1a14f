"""Statistics shared by every stage (`ranking`)."""
