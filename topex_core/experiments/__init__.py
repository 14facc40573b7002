"""The TopEx protocol as an experiment over seeds, and its report."""
