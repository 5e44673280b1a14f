"""Statistics shared by every stage (`ranking`, `newey_west`)."""
